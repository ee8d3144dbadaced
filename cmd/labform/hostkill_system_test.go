package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/agent"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/remote"
)

// TestSystem_hostAgentKilledMidApply kills a host's agent while an apply
// creates containers there: the actions in flight fail with the lost
// connection, the apply exits 1, and the next apply finishes the lab from
// the journal and the live host (nothing doubled, nothing left behind);
// destroy then leaves the host as it was.
func TestSystem_hostAgentKilledMidApply(t *testing.T) {
	systest.Require(t, "runc", "busybox", "ip")
	sim := systest.NewSimHosts(t, "kill", 1)
	t.Setenv(remote.AgentBinaryEnv, systest.LabformBinary(t))
	h := sim.Hosts[0]
	dir := t.TempDir()
	name := fmt.Sprintf("lfkill%d", os.Getpid()%100000)
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sh", "sleep")
	const n = 16
	src := fmt.Sprintf(`
lab {
  name = %q
}
%s
container "n" {
  count   = %d
  host    = host.%s
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 2
}
link "chain" {
  count     = %d
  endpoints = [container.n[count.index].port[1], container.n[count.index + 1].port[0]]
}
`, name, sim.Block(h), n, h.Name, n-1)
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &hostsCLI{t: t, dir: dir}
	real, _ := filepath.EvalSymlinks(dir)
	hostID := agent.HostLabID(providers.LabID(real), h.Name)
	root := container.RuntimeRoot(hostID)
	t.Cleanup(func() {
		c.run("destroy", "-auto-approve")
		systest.RemoveRuncRoot(root)
		// What a failed destroy left: the containers' namespaces (their
		// IDs are the operator's), then the host's lab namespace.
		for i := 0; i < n; i++ {
			for slot := 0; slot < providers.Slots; slot++ {
				labnet.DeleteNetns(labnet.ContainerNetns(providers.ObjectID(providers.LabID(real), fmt.Sprintf("container.n[%d]", i), slot)))
			}
		}
		labnet.DeleteNetns(providers.LabNetns(name + "-" + hostID[:8]))
	})
	running := func() []string { return systest.RuncIDs(t, root) }

	// The apply runs in this process; the agent it started is killed as
	// soon as the first container runs on the host.
	done := make(chan struct{})
	var code int
	var out string
	go func() {
		defer close(done)
		code, out = c.run("apply", "-auto-approve", "-parallelism=1")
	}()
	killed := 0
	deadline := time.Now().Add(60 * time.Second)
	for killed == 0 && time.Now().Before(deadline) {
		select {
		case <-done:
			ls, _ := exec.Command("sh", "-c", "ls -la "+root+"; runc --root "+root+" list").CombinedOutput()
			t.Fatalf("the apply ended before any container ran on the host (exit %d):\n%s\n%s", code, ls, out)
		default:
		}
		if len(running()) > 0 {
			pid := agentPid(h.Name)
			if pid == 0 {
				<-done // the cleanup's destroy must not run beside the apply
				t.Fatalf("no agent of host %s runs", h.Name)
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				<-done
				t.Fatal(err)
			}
			killed = pid
			t.Logf("killed the agent (pid %d) with %d containers running", killed, len(running()))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if killed == 0 {
		<-done
		t.Fatal("no container ran on the host within 60 s")
	}
	<-done
	t.Logf("apply with its agent (pid %d) killed: exit %d\n%s", killed, code, out)
	if code != 1 || !strings.Contains(out, "the connection to the agent was lost") {
		t.Fatalf("the apply whose agent was killed: exit %d, want 1 with the lost connection:\n%s", code, out)
	}

	// The next apply finishes the lab; a plan after it is empty.
	c.must(0, "apply", "-auto-approve")
	if out := c.must(0, "plan", "-detailed-exitcode"); !strings.Contains(out, "No changes") {
		t.Fatalf("the plan after the repairing apply is not empty:\n%s", out)
	}
	if got := len(running()); got != n {
		t.Fatalf("%d runc containers on the host after the repair, want %d: %v", got, n, running())
	}
	c.must(0, "destroy", "-auto-approve")
	if left := running(); len(left) > 0 {
		t.Fatalf("destroy left runc containers on the host: %v", left)
	}
	if _, err := os.Stat(filepath.Join(labnet.Dir, providers.LabNetns(name+"-"+hostID[:8]))); err == nil {
		t.Fatal("destroy left the host's lab namespace")
	}
}

// agentPid finds the agent serving the simulated host named host (its
// -dir ends in hosts/<host>, a name unique to the test).
func agentPid(host string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 4 && args[1] == "agent" && args[2] == "-dir" && strings.HasSuffix(args[3], "/hosts/"+host) {
			var pid int
			fmt.Sscan(filepath.Base(d), &pid)
			return pid
		}
	}
	return 0
}
