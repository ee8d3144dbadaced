package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/labreg"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/qemu"
)

var chaosRounds = flag.Int("chaos.rounds", 6, "rounds of TestChaos_killNineRealLab (the README's figures come from -chaos.rounds=50)")

// chaosLab has every kind of object the real providers make on this
// host: containers with ports and addresses, links (one shaped), a chain
// in a container and one in the lab namespace, and a QEMU VM whose memory
// a variable sets (a change restarts it).
const chaosLab = `
lab {
  name = "%s"
}
variable "mem" {
  type    = number
  default = 64
}
vm "r" {
  provider = qemu
  accel    = "tcg"
  memory   = var.mem
  adapters = 1
  console  = "none"
}
container "h" {
  count   = 4
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 2
  addresses = {
    eth0 = ["10.231.${count.index}.1/24"]
  }
}
link "chain" {
  count     = 3
  endpoints = [container.h[count.index].port[1], container.h[count.index + 1].port[0]]
}
link "uplink" {
  endpoints = [vm.r.port[0], container.h[0].port[0]]
  impairment {
    rate = "50mbit"
  }
}
firewall_chain "h_in" {
  target = container.h[1]
  hooks  = ["INPUT"]
  mode   = "allowlist"
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
}
firewall_chain "lab_fwd" {
  target = lab
  hooks  = ["FORWARD"]
  rule {
    protocol = "tcp"
    dport    = 23
    action   = "drop"
  }
}
`

var chaosAddrs = []string{"vm.r", "container.h[0]", "container.h[1]", "container.h[2]", "container.h[3]",
	"link.chain[0]", "link.chain[1]", "link.chain[2]", "link.uplink", "firewall_chain.h_in", "firewall_chain.lab_fwd"}

// TestChaos_killNineRealLab kills applies, restarts and destroys of a
// real lab with SIGKILL at random moments, either labform alone or its
// whole process group (runc and iptables-restore with it). After each
// kill the next plan must be honest (exit 0 or 2, never an error), one
// apply or destroy must converge (a plan after it is empty), and after
// each destroy nothing of the lab may be left on the host. Short in CI;
// -chaos.rounds=50 for the long run.
func TestChaos_killNineRealLab(t *testing.T) {
	systest.Require(t, "runc", "busybox", "qemu-system-x86_64", "iptables-restore", "ip")
	dir := t.TempDir()
	name := fmt.Sprintf("lfchaos%d", os.Getpid()%100000)
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(fmt.Sprintf(chaosLab, name)), 0o644)
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sh", "sleep")
	real, _ := filepath.EvalSymlinks(dir)
	labID := providers.LabID(real)
	t.Cleanup(func() {
		realRun(t, dir, "destroy", "-auto-approve")
		removeChaosLeftovers(name, labID)
	})
	seed := time.Now().UnixNano()
	if s := os.Getenv("LABFORM_CHAOS_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d (LABFORM_CHAOS_SEED repeats it)", seed)

	run := func(group bool, args ...string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], append([]string{"-chdir=" + dir, "-no-color"}, args...)...)
		cmd.Env = append(os.Environ(), "LABFORM_TEST_MAIN=real")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: group}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	wait := func(args ...string) (int, string) { return realRun(t, dir, args...) }
	mem, orphans, kills, groupKills := 64, 0, 0, 0
	// How long each operation takes when left alone: kills are drawn
	// within it, so that most rounds interrupt something.
	took := map[string]time.Duration{"apply": 300 * time.Millisecond, "destroy": 300 * time.Millisecond}
	op := "destroy"
	for round := 0; round < *chaosRounds; round++ {
		// What this round interrupts: an apply (from nothing, or a restart
		// of the VM with another memory size) or a destroy of a lab that
		// exists.
		if op == "destroy" || rng.Intn(3) > 0 {
			op = "apply"
		} else {
			op = "destroy"
		}
		args := []string{"destroy", "-auto-approve"}
		if op == "apply" {
			mem = 160 - mem // 64 <-> 96: restarts the VM when it exists
			args = []string{"apply", "-auto-approve", fmt.Sprintf("-var=mem=%d", mem)}
		}
		group := rng.Intn(2) == 0
		cmd, out := run(group, args...)
		killAt := time.Duration(rng.Int63n(int64(took[op])))
		start := time.Now()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		killed := false
		select {
		case <-done:
			took[op] = time.Since(start)
		case <-time.After(killAt):
			killed = true
			if group {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				groupKills++
			} else {
				cmd.Process.Signal(syscall.SIGKILL)
			}
			kills++
			<-done
		}
		if killed {
			t.Logf("round %d: %s killed after %v (whole group: %v)", round, op, killAt, group)
		} else {
			t.Logf("round %d: %s finished in %v, before the kill", round, op, took[op])
		}

		// The next plan is honest: it runs and says what is left to do.
		planArgs := []string{"plan", "-detailed-exitcode", fmt.Sprintf("-var=mem=%d", mem)}
		if op == "destroy" {
			planArgs = []string{"plan", "-destroy", "-detailed-exitcode"}
		}
		if code, pout := wait(planArgs...); code != 0 && code != 2 {
			t.Fatalf("round %d: plan after the kill exits %d\n%s\nkilled run:\n%s", round, code, pout, out)
		}
		// One run converges.
		finish := append([]string(nil), args...)
		if code, aout := wait(finish...); code != 0 {
			t.Fatalf("round %d: %s after the kill exits %d\n%s\nkilled run:\n%s", round, op, code, aout, out)
		}
		if code, pout := wait(planArgs...); code != 0 && !(op == "destroy" && code == 2 && !strings.Contains(pout, "to destroy")) {
			t.Fatalf("round %d: not converged after one %s (plan exits %d)\n%s", round, op, code, pout)
		}
		if op == "destroy" {
			if left := chaosLeftovers(name, labID); len(left) > 0 {
				orphans += len(left)
				t.Errorf("round %d: after destroy, left on the host: %s", round, strings.Join(left, "; "))
				removeChaosLeftovers(name, labID)
			}
		}
	}
	if code, out := wait("destroy", "-auto-approve"); code != 0 {
		t.Fatalf("final destroy exits %d\n%s", code, out)
	}
	left := chaosLeftovers(name, labID)
	orphans += len(left)
	t.Logf("%d rounds, %d kills (%d of the whole process group), %d orphans", *chaosRounds, kills, groupKills, orphans)
	if len(left) > 0 {
		t.Fatalf("after the final destroy, left on the host: %s", strings.Join(left, "; "))
	}
}

// realRun runs labform with the real providers to its end (at most 5
// minutes) and returns its exit code and output.
func realRun(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd, out := realLabform(t, dir, args...)
	if _, ok := exited(cmd, 5*time.Minute); !ok {
		cmd.Process.Kill()
		exited(cmd, time.Minute)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// chaosLeftovers lists what of the lab is on the host: its namespaces,
// runc containers and state, QEMU processes and run directories, cgroups,
// bundles, records under /run/labform and iptables rules in the host's
// namespace. Names are derived from the lab's ID and every address's
// slots, so nothing of another test is counted.
func chaosLeftovers(name, labID string) []string {
	var left []string
	exists := func(p string) {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, p)
		}
	}
	exists(filepath.Join(labnet.Dir, providers.LabNetns(name)))
	exists(filepath.Join(labnet.HoldsDir, providers.LabNetns(name)))
	exists(filepath.Join(labreg.Dir, name+".json"))
	exists(container.RuntimeRoot(labID))
	for _, a := range chaosAddrs {
		for slot := 0; slot < providers.Slots; slot++ {
			id := providers.ObjectID(labID, a, slot)
			exists(filepath.Join(labnet.Dir, labnet.ContainerNetns(id)))
			exists(filepath.Join(qemu.RunRoot, id))
			cgs, _ := filepath.Glob("/sys/fs/cgroup/*/lf-" + id)
			cgs2, _ := filepath.Glob("/sys/fs/cgroup/*/*/lf-" + id)
			cgs3, _ := filepath.Glob("/sys/fs/cgroup/cpu/labform/" + id)
			left = append(left, append(append(cgs, cgs2...), cgs3...)...)
			if pids := qemuProcesses(filepath.Join(qemu.RunRoot, id)); len(pids) > 0 {
				left = append(left, fmt.Sprintf("QEMU pids %v of %s", pids, a))
			}
			if ifs, _ := exec.Command("ip", "-br", "link").Output(); strings.Contains(string(ifs), labnet.PortPrefix(id)) {
				left = append(left, "host interface "+labnet.PortPrefix(id)+"*")
			}
		}
	}
	if out, err := exec.Command("iptables-save").Output(); err == nil && (strings.Contains(string(out), "h_in") || strings.Contains(string(out), "lab_fwd")) {
		left = append(left, "chains in the host's iptables")
	}
	return left
}

// qemuProcesses lists the QEMU processes whose command line names runDir.
func qemuProcesses(runDir string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(b, []byte(runDir+"/")) {
			continue
		}
		var pid int
		fmt.Sscanf(f, "/proc/%d/cmdline", &pid)
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !bytes.Contains(st, []byte(") Z ")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeChaosLeftovers removes by name what chaosLeftovers finds, so that
// a failed run leaves nothing behind.
func removeChaosLeftovers(name, labID string) {
	root := container.RuntimeRoot(labID)
	systest.RemoveRuncRoot(root)
	for _, a := range chaosAddrs {
		for slot := 0; slot < providers.Slots; slot++ {
			id := providers.ObjectID(labID, a, slot)
			// A container whose runc state is gone: its processes, by the
			// cgroup named after it, then the cgroups.
			cgs, _ := filepath.Glob("/sys/fs/cgroup/*/lf-" + id)
			for _, cg := range cgs {
				b, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
				for _, f := range strings.Fields(string(b)) {
					var pid int
					fmt.Sscan(f, &pid)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			for _, cg := range cgs {
				for i := 0; i < 50 && os.Remove(cg) != nil; i++ {
					time.Sleep(20 * time.Millisecond)
				}
			}
			for _, pid := range qemuProcesses(filepath.Join(qemu.RunRoot, id)) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			labnet.DeleteNetns(labnet.ContainerNetns(id))
			os.RemoveAll(filepath.Join(qemu.RunRoot, id))
		}
	}
	labnet.DeleteNetns(providers.LabNetns(name))
	os.RemoveAll(filepath.Join(labnet.HoldsDir, providers.LabNetns(name)))
	os.Remove(filepath.Join(labreg.Dir, name+".json"))
}

// TestSystem_stateLostUnderRunningLab deletes .labform under a running
// real lab (bundles, QEMU working directories and state go with it). The
// next plan says so and adopts every object where its ID says it is;
// destroy then leaves nothing on the host.
func TestSystem_stateLostUnderRunningLab(t *testing.T) {
	systest.Require(t, "runc", "busybox", "qemu-system-x86_64", "iptables-restore", "ip")
	dir := t.TempDir()
	name := fmt.Sprintf("lflost%d", os.Getpid()%100000)
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(fmt.Sprintf(chaosLab, name)), 0o644)
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sh", "sleep")
	real, _ := filepath.EvalSymlinks(dir)
	labID := providers.LabID(real)
	t.Cleanup(func() { removeChaosLeftovers(name, labID) })
	lf := func(args ...string) (int, string) { return realRun(t, dir, args...) }
	if code, out := lf("apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply exits %d\n%s", code, out)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".labform")); err != nil {
		t.Fatal(err)
	}
	// Adopted chains are applied again in place: without the rules read
	// back at the last apply, they are compared with the rendered ones,
	// which iptables-save rewrites. Nothing is created or destroyed.
	code, out := lf("plan", "-detailed-exitcode")
	if code == 1 || !strings.Contains(out, fmt.Sprintf("%d found and adopted", len(chaosAddrs))) ||
		(code == 2 && !strings.Contains(out, "Plan: 0 to add, 2 to change, 0 to destroy.")) {
		t.Fatalf("plan exits %d; want all %d objects adopted, nothing added or destroyed:\n%s", code, len(chaosAddrs), out)
	}
	if code, out := lf("apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply after the adoption exits %d\n%s", code, out)
	}
	if code, out := lf("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("plan after the adoption's apply exits %d\n%s", code, out)
	}
	if code, out := lf("destroy", "-auto-approve"); code != 0 || !strings.Contains(out, fmt.Sprintf("%d destroyed", len(chaosAddrs))) {
		t.Fatalf("destroy exits %d\n%s", code, out)
	}
	if left := chaosLeftovers(name, labID); len(left) > 0 {
		t.Fatalf("left on the host: %s", strings.Join(left, "; "))
	}
}
