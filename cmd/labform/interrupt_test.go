package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
)

// realLabform starts the test binary as labform with the real providers.
func realLabform(t *testing.T, dir string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	return startLabform(t, []string{"LABFORM_TEST_MAIN=real"}, dir, args...)
}

// startLabform starts the test binary as labform with env added, its
// output readable while it runs.
func startLabform(t *testing.T, env []string, dir string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-chdir=" + dir, "-no-color"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		exited(cmd, 10*time.Second)
	})
	return cmd, out
}

// hangingTool writes a script that records its pid and its child's in
// pids and then hangs: a tool that never answers.
func hangingTool(t *testing.T, path, pids string) {
	t.Helper()
	script := fmt.Sprintf("#!/bin/sh\necho $$ >> %s\nsleep 600 &\necho $! >> %s\nwait\n", pids, pids)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// pidsRunning lists the pids in the file whose processes still run (a
// zombie counts as gone).
func pidsRunning(path string) []string {
	b, _ := os.ReadFile(path)
	var running []string
	for _, f := range strings.Fields(string(b)) {
		if st, err := os.ReadFile("/proc/" + f + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
			running = append(running, f)
		}
	}
	return running
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

// exited waits up to d for cmd to exit and says how long it took. One
// goroutine waits for a command, however often exited asks.
func exited(cmd *exec.Cmd, d time.Duration) (time.Duration, bool) {
	start := time.Now()
	waitersMu.Lock()
	done, ok := waiters[cmd]
	if !ok {
		done = make(chan struct{})
		waiters[cmd] = done
		go func() { cmd.Wait(); close(done) }()
	}
	waitersMu.Unlock()
	select {
	case <-done:
		return time.Since(start), true
	case <-time.After(d):
		return d, false
	}
}

var (
	waitersMu sync.Mutex
	waiters   = map[*exec.Cmd]chan struct{}{}
)

// TestInterrupt_secondStopsAHungTool applies two VMs: one whose
// qemu-system hangs (tool_timeout is 10 minutes) and one that is only
// prepared (state = "stopped": no process), which completes. A first
// SIGINT lets the running start go on; a second signal (SIGINT again, or
// SIGTERM) ends labform at once, killing the hung tool and its child. The
// next plan knows the completed VM from state and wants to create the
// other, and nothing else.
func TestInterrupt_secondStopsAHungTool(t *testing.T) {
	for _, second := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(second.String(), func(t *testing.T) { secondStopsAHungTool(t, second) })
	}
}

func secondStopsAHungTool(t *testing.T, second syscall.Signal) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	fake := filepath.Join(dir, "qemu-hangs")
	hangingTool(t, fake, pids)
	t.Cleanup(func() {
		for _, pid := range pidsRunning(pids) {
			var n int
			fmt.Sscan(pid, &n)
			syscall.Kill(n, syscall.SIGKILL)
		}
		// The prepared VM and what the cut start left.
		d, dout := realLabform(t, dir, "destroy", "-auto-approve")
		if exited(d, time.Minute); d.ProcessState.ExitCode() != 0 {
			t.Errorf("destroy: %v\n%s", d.ProcessState, dout)
		}
	})
	lab := fmt.Sprintf(`
provider "qemu" {
  binary       = %q
  tool_timeout = "10m"
}

vm "a" {
  provider = qemu
  adapters = 0
  console  = "none"
}

vm "ok" {
  provider = qemu
  adapters = 0
  console  = "none"
  state    = "stopped"
}
`, fake)
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(lab), 0o644)
	cmd, out := realLabform(t, dir, "apply", "-auto-approve")
	waitFor(t, "the hung qemu starts", 30*time.Second, func() bool { return len(pidsRunning(pids)) == 2 })
	waitFor(t, "vm.ok is created", 30*time.Second, func() bool { return strings.Contains(out.String(), "vm.ok: Creation complete") })

	cmd.Process.Signal(syscall.SIGINT)
	if took, ok := exited(cmd, 700*time.Millisecond); ok {
		t.Fatalf("labform exited %v after the first SIGINT: it should let the running start go on\n%s", took, out)
	}
	if len(pidsRunning(pids)) != 2 {
		t.Fatal("the first SIGINT killed the running tool")
	}
	cmd.Process.Signal(second)
	took, ok := exited(cmd, 10*time.Second)
	if !ok {
		t.Fatalf("labform still runs 10s after the second signal\n%s", out)
	}
	t.Logf("labform exited %v after %v", took.Round(time.Millisecond), second)
	if took > 3*time.Second {
		t.Errorf("the second signal took %v to end labform, want under 3s", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d (%v) after two signals, want 1\n%s", code, cmd.ProcessState, out)
	}
	contains(t, "apply's output", out.String(), "Interrupt received", "interrupt again to stop at once", "Second interrupt",
		"interrupted; its process group was killed", fake, "Stopped at once")
	waitFor(t, "the hung tool and its child are gone", 2*time.Second, func() bool { return len(pidsRunning(pids)) == 0 })

	plan, pout := realLabform(t, dir, "plan", "-detailed-exitcode")
	exited(plan, time.Minute)
	if code := plan.ProcessState.ExitCode(); code != 2 || countLine(pout.String(), "to add") != 1 || !strings.Contains(pout.String(), "vm.a will be created") {
		t.Fatalf("the plan after the stop: exit %d, want 2 with vm.a, and only it, to add\n%s", code, pout)
	}
}

// TestInterrupt_duringRefresh makes runc hang at refresh (a runc first on
// PATH that hangs while a file exists) under a lab whose container runs:
// a SIGINT during the hung refresh ends labform at once, by its handler
// (not by the signal's default), with nothing changed, and the hung runc
// and its child are killed. The container is then destroyed with the
// real runc.
func TestInterrupt_duringRefresh(t *testing.T) {
	systest.Require(t, "runc", "busybox")
	dir := t.TempDir()
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sleep")
	bin := t.TempDir()
	pids, hang := filepath.Join(bin, "pids"), filepath.Join(bin, "hang")
	real, _ := exec.LookPath("runc")
	script := fmt.Sprintf("#!/bin/sh\nif [ -e %s ]; then echo $$ >> %s; sleep 600 & echo $! >> %s; wait; fi\nexec %s \"$@\"\n", hang, pids, pids, real)
	if err := os.WriteFile(filepath.Join(bin, "runc"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	lab := fmt.Sprintf(`
lab {
  name = "lfint%d"
}

container "c" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 0
}
`, os.Getpid()%100000)
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(lab), 0o644)
	t.Cleanup(func() {
		os.Remove(hang)
		d, dout := realLabform(t, dir, "destroy", "-auto-approve")
		if exited(d, time.Minute); d.ProcessState.ExitCode() != 0 {
			t.Errorf("destroy: %v\n%s", d.ProcessState, dout)
		}
		for _, pid := range pidsRunning(pids) {
			var n int
			fmt.Sscan(pid, &n)
			syscall.Kill(n, syscall.SIGKILL)
		}
	})
	apply, aout := realLabform(t, dir, "apply", "-auto-approve")
	if exited(apply, time.Minute); apply.ProcessState.ExitCode() != 0 {
		t.Fatalf("apply: %v\n%s", apply.ProcessState, aout)
	}
	os.WriteFile(hang, nil, 0o644)

	plan, pout := realLabform(t, dir, "plan")
	waitFor(t, "the hung runc list starts", 10*time.Second, func() bool { return len(pidsRunning(pids)) == 2 })
	plan.Process.Signal(syscall.SIGINT)
	took, ok := exited(plan, 10*time.Second)
	if !ok {
		t.Fatalf("plan still runs 10s after SIGINT during refresh\n%s", pout)
	}
	t.Logf("plan exited %v after a SIGINT during refresh", took.Round(time.Millisecond))
	if took > 1500*time.Millisecond {
		t.Errorf("a SIGINT during refresh took %v to end labform", took)
	}
	if ws, ok := plan.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Error("labform died of the signal instead of handling it")
	}
	if plan.ProcessState.ExitCode() != 1 {
		t.Errorf("plan: exit %d after SIGINT, want 1", plan.ProcessState.ExitCode())
	}
	contains(t, "plan's output", pout.String(), "Interrupt received", "nothing in the lab was changed")
	t.Logf("plan output:\n%s", pout)
	waitFor(t, "the hung runc list is killed", 2*time.Second, func() bool { return len(pidsRunning(pids)) == 0 })
}

// syncBuffer is a bytes.Buffer that a process's output and the test may
// use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestInterrupt_secondStopsEvenAnActionThatIgnoresIt applies with an
// in-memory provider whose actions sleep 60s and do not heed their
// context (as a provider stuck outside any tool call would): after a
// second SIGINT labform waits hardStopGrace for them, then exits 1 anyway,
// and the next plan runs (the lock is free) and adds what was not made.
func TestInterrupt_secondStopsEvenAnActionThatIgnoresIt(t *testing.T) {
	dir, memDir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(crashLab), 0o644)
	cmd, out := startLabform(t, []string{"LABFORM_TEST_MAIN=1", "LABFORM_TEST_MEMDIR=" + memDir, "LABFORM_TEST_DELAY=60s"},
		dir, "apply", "-auto-approve", "-parallelism=3")
	waitFor(t, "the apply starts its actions", 30*time.Second, func() bool { return strings.Contains(out.String(), "Creating...") })
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	took, ok := exited(cmd, hardStopGrace+5*time.Second)
	if !ok {
		cmd.Process.Kill()
		t.Fatalf("labform still runs %v after the second SIGINT\n%s", hardStopGrace+5*time.Second, out)
	}
	t.Logf("labform exited %v after the second SIGINT", took.Round(time.Millisecond))
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, out)
	}
	contains(t, "apply's output", out.String(), "Second interrupt", "did not stop within")
	plan, pout := labformProcess(t, dir, memDir, "0s", "plan", "-refresh=false")
	if exited(plan, time.Minute); countLine(pout.String(), "to add") != 30-objectsIn(memDir) {
		t.Fatalf("%d objects exist; the plan after the stop:\n%s", objectsIn(memDir), pout)
	}
}
