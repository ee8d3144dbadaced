package container_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers/all"
	"github.com/labform/labform/providers/container"
)

// TestSystem_specRunsUnderRunc runs BuildSpec's output with the real runc
// and checks from inside the container that the options took effect.
func TestSystem_specRunsUnderRunc(t *testing.T) {
	systest.Require(t, "runc", "ip", "busybox")
	id := fmt.Sprintf("lftest%d", os.Getpid()%100000)
	labDir := t.TempDir()
	rootfs := filepath.Join(labDir, "rootfs")
	out := filepath.Join(labDir, "out")
	for _, d := range []string{filepath.Join(rootfs, "bin"), filepath.Join(rootfs, "out"), out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, _ := exec.LookPath("busybox")
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755)
	for _, applet := range []string{"sh", "sleep", "cat", "grep", "hostname", "touch", "echo"} {
		os.Symlink("busybox", filepath.Join(rootfs, "bin", applet))
	}
	if o, err := exec.Command("ip", "netns", "add", id).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, o)
	}
	t.Cleanup(func() {
		exec.Command("runc", "delete", "-f", id).Run()
		exec.Command("ip", "netns", "del", id).Run()
	})

	lab := `
container "probe" {
  rootfs          = "rootfs"
  readonly_rootfs = true
  hostname        = "probe-host"
  command = ["sh", "-c", "hostname > /out/hostname; echo $ROLE > /out/env; grep CapEff /proc/self/status > /out/caps; touch /rootfs-is-writable 2>/dev/null && echo yes > /out/rw || echo no > /out/rw; sleep 300"]
  env = {
    ROLE = "router"
  }
  capabilities = ["CAP_NET_ADMIN", "CAP_NET_RAW"]
  mount {
    source      = "out"
    destination = "/out"
    options     = ["rw"]
  }
  resources {
    memory = "48MiB"
    pids   = 32
  }
}
`
	l := config.NewLab(labDir, all.Registry())
	diags := l.AddFile("probe.lab.hcl", []byte(lab))
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	if diags = append(diags, more...); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	spec, errs := container.BuildSpec(d.Instances[d.Order[0]].Value, container.SpecEnv{LabDir: labDir, Netns: "/var/run/netns/" + id})
	if len(errs) > 0 {
		t.Fatalf("%v", errs)
	}
	bundle := filepath.Join(labDir, "bundle")
	os.MkdirAll(bundle, 0o755)
	b, _ := json.Marshal(spec)
	os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)

	// runc hands its stdio to the container: never a pipe, which would hang it.
	logf, _ := os.Create(filepath.Join(labDir, "runc.log"))
	defer logf.Close()
	cmd := exec.Command("runc", "run", "-d", "--bundle", bundle, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, logf, logf
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(labDir, "runc.log"))
		t.Fatalf("runc run: %v\n%s", err, log)
	}
	read := func(name string) string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err == nil && len(b) > 0 {
				return strings.TrimSpace(string(b))
			}
			if time.Now().After(deadline) {
				t.Fatalf("the container never wrote /out/%s", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := read("hostname"); got != "probe-host" {
		t.Errorf("hostname %q", got)
	}
	if got := read("env"); got != "router" {
		t.Errorf("env ROLE %q", got)
	}
	// CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13: 0x3000 and nothing else.
	if got := read("caps"); !strings.HasSuffix(got, "0000000000003000") {
		t.Errorf("effective capabilities %q, want only NET_ADMIN and NET_RAW", got)
	}
	if got := read("rw"); got != "no" {
		t.Errorf("the read-only rootfs was writable")
	}
	st, err := exec.Command("runc", "state", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	var state struct{ Pid int }
	json.Unmarshal(st, &state)
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", state.Pid))
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] == "memory" {
			limit, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
			if err != nil {
				t.Fatalf("reading the memory cgroup: %v", err)
			}
			if strings.TrimSpace(string(limit)) != fmt.Sprint(48<<20) {
				t.Errorf("memory limit %s, want %d", limit, 48<<20)
			}
		}
	}
	ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", state.Pid))
	var pinned, _ = os.Stat("/var/run/netns/" + id)
	var joined, _ = os.Stat(fmt.Sprintf("/proc/%d/ns/net", state.Pid))
	if pinned == nil || joined == nil || !os.SameFile(pinned, joined) {
		t.Errorf("the container is not in the pinned network namespace (%s)", ns)
	}
}
