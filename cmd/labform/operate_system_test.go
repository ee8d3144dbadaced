package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/qemu"
)

// realExec runs the test binary as labform with the real providers, the
// given stdin, and returns its exit code, stdout and stderr.
func realExec(t *testing.T, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-chdir=" + dir, "-no-color"}, args...)...)
	cmd.Env = append(os.Environ(), "LABFORM_TEST_MAIN=real")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// tmux drives a terminal program as a person would: a tmux server of its
// own (its socket named after the test), one window of 120x40.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, env []string, argv ...string) *tmux {
	t.Helper()
	systest.Require(t, "tmux")
	tm := &tmux{t: t, socket: fmt.Sprintf("lf-test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)}
	args := []string{"-L", tm.socket, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	cmd := exec.Command("tmux", append(args, strings.Join(argv, " "))...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	// Keep the window when the program exits, to read what it said.
	exec.Command("tmux", "-L", tm.socket, "set-option", "-g", "remain-on-exit", "on").Run()
	return tm
}

func (tm *tmux) send(keys ...string) {
	tm.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-L", tm.socket, "send-keys", "-t", "0"}, keys...)...).CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux send-keys %v: %v: %s", keys, err, out)
	}
}

func (tm *tmux) screen() string {
	out, _ := exec.Command("tmux", "-L", tm.socket, "capture-pane", "-p", "-t", "0", "-S", "-100").Output()
	return string(out)
}

// waitFor waits until the screen shows s.
func (tm *tmux) waitFor(s string, d time.Duration) string {
	tm.t.Helper()
	deadline := time.Now().Add(d)
	for {
		scr := tm.screen()
		if strings.Contains(scr, s) {
			return scr
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the terminal never showed %q in %v; it shows:\n%s", s, d, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exited tells whether the window's program has ended.
func (tm *tmux) exited() bool {
	out, _ := exec.Command("tmux", "-L", tm.socket, "display-message", "-p", "-t", "0", "#{pane_dead}").Output()
	return strings.TrimSpace(string(out)) == "1"
}

const operateLab = `
lab {
  name = %q
}

container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 2
  addresses = {
    eth0 = ["10.204.0.1/24"]
  }
}

container "b" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  addresses = {
    eth0 = ["10.204.0.2/24"]
  }
}

link "ab" {
  endpoints = [container.a.port[0], container.b.port[0]]
  state     = var.state
}

variable "state" {
  type    = string
  default = "up"
}
`

// newOperateLab applies two containers and a link with the real
// providers; everything is destroyed when the test ends.
func newOperateLab(t *testing.T) (dir, name string) {
	systest.Require(t, "runc", "busybox", "ip")
	dir = t.TempDir()
	name = fmt.Sprintf("lfop%d", os.Getpid()%100000)
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(fmt.Sprintf(operateLab, name)), 0o644)
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sh", "sleep", "cat", "echo", "ip", "ls")
	real, _ := filepath.EvalSymlinks(dir)
	labID := providers.LabID(real)
	t.Cleanup(func() {
		realRun(t, dir, "destroy", "-auto-approve")
		root := container.RuntimeRoot(labID)
		systest.RemoveRuncRoot(root)
		for _, a := range []string{"container.a", "container.b"} {
			for slot := 0; slot < providers.Slots; slot++ {
				labnet.DeleteNetns(labnet.ContainerNetns(providers.ObjectID(labID, a, slot)))
			}
		}
		labnet.DeleteNetns(providers.LabNetns(name))
	})
	if code, out := realRun(t, dir, "apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	return dir, name
}

// TestSystem_statusExecConsole runs status, state show, exec and console
// on a lab of real containers.
func TestSystem_statusExecConsole(t *testing.T) {
	dir, name := newOperateLab(t)

	// status: live values, host names that exist on the host.
	code, out, errOut := realExec(t, dir, "", "status", "-json")
	if code != 0 {
		t.Fatalf("status -json: exit %d: %s", code, errOut)
	}
	var st struct {
		Nodes []struct {
			Address string `json:"address"`
			State   string `json:"state"`
			Pid     int    `json:"pid"`
			Ports   []struct {
				Inside, Host, Link string
				Peers              []struct{ Node, Interface string }
			} `json:"ports"`
			Host providers.Description `json:"host"`
		} `json:"nodes"`
		Links []struct{ Address, State string } `json:"links"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -json: %v:\n%s", err, out)
	}
	if len(st.Nodes) != 2 || len(st.Links) != 1 || st.Links[0].State != "up" {
		t.Fatalf("status -json: %d nodes, links %+v:\n%s", len(st.Nodes), st.Links, out)
	}
	a := st.Nodes[0]
	if a.Address != "container.a" || a.State != "running" || len(a.Ports) != 2 {
		t.Fatalf("container.a: %+v", a)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", a.Pid)); err != nil {
		t.Errorf("container.a's pid %d does not run: %v", a.Pid, err)
	}
	if _, err := os.Stat(a.Host.Netns); err != nil {
		t.Errorf("container.a's netns %s: %v", a.Host.Netns, err)
	}
	if p := a.Ports[0]; p.Inside != "eth0" || p.Link != "link.ab" || len(p.Peers) != 1 || p.Peers[0].Node != "container.b" || p.Peers[0].Interface != "eth0" {
		t.Errorf("container.a's port 0: %+v", p)
	}
	if out, err := exec.Command("ip", "-n", providers.LabNetns(name), "link", "show", a.Ports[1].Host).CombinedOutput(); err != nil {
		t.Errorf("the host side of container.a's eth1, %s, is not in the lab namespace: %v: %s", a.Ports[1].Host, err, out)
	}
	if st, _ := exec.Command("runc", "--root", a.Host.RuntimeRoot, "state", a.Host.RuntimeID).Output(); !strings.Contains(string(st), `"running"`) {
		t.Errorf("runc --root %s state %s: %s", a.Host.RuntimeRoot, a.Host.RuntimeID, st)
	}
	// A container killed by hand reads as such: status refreshes.
	exec.Command("runc", "--root", a.Host.RuntimeRoot, "kill", st.Nodes[1].Host.RuntimeID, "KILL").Run()
	for i := 0; i < 50; i++ {
		if _, out, _ := realExec(t, dir, "", "status"); strings.Contains(out, "stopped (drifted)") {
			break
		} else if i == 49 {
			t.Fatalf("status does not show container.b stopped after a kill:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _, errOut := realExec(t, dir, "", "exec", "container.b", "--", "true"); code != 1 || !strings.Contains(errOut, "container.b is stopped") {
		t.Errorf("exec in a stopped container: exit %d, %s", code, errOut)
	}
	if code, out := realRun(t, dir, "apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}

	// labform exec stopped by SIGTERM (a CI timeout) or SIGHUP ends the
	// command in the node, not only runc.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		marker := fmt.Sprintf("sleep 73%02d", int(sig))
		cmd := exec.Command(os.Args[0], "-chdir="+dir, "-no-color", "exec", "container.a", "--", "sh", "-c", marker+"; true")
		cmd.Env = append(os.Environ(), "LABFORM_TEST_MAIN=real")
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		cmd.WaitDelay = 2 * time.Second // an orphaned runc would hold the pipe
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		running := func() bool {
			procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range procs {
				if b, _ := os.ReadFile(p); strings.ReplaceAll(string(b), "\x00", " ") == marker+" " {
					return true
				}
			}
			return false
		}
		for i := 0; !running(); i++ {
			if i == 100 {
				cmd.Process.Kill()
				t.Fatalf("%s never started in container.a: %s", marker, errOut.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		cmd.Wait()
		for i := 0; running(); i++ {
			if i == 100 {
				t.Fatalf("labform exec got %v and ended, but %s still runs in container.a", sig, marker)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// state show: the host names.
	_, out, _ = realExec(t, dir, "", "state", "show", "container.a")
	for _, want := range []string{"netns", "runtime_root    = /run/labform/runc-", "log", "port[1]         = eth1 inside, lfp"} {
		if !strings.Contains(out, want) {
			t.Errorf("state show container.a has no %q:\n%s", want, out)
		}
	}

	// exec: output, exit code, stdin.
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		out   string
	}{
		{args: []string{"container.a", "--", "sh", "-c", "echo hi from $(cat /proc/1/comm); exit 3"}, code: 3, out: "hi from sleep\n"},
		{stdin: "typed in\n", args: []string{"container.a", "--", "cat"}, out: "typed in\n"},
		{args: []string{"container.b", "--", "ip", "-o", "addr", "show", "eth0"}, out: "10.204.0.2/24"},
		{stdin: "echo from the default shell\n", args: []string{"container.a"}, out: "from the default shell\n"},
		{args: []string{"container.a", "ls", "-d", "/bin"}, out: "/bin\n"}, // no --: the flags are ls's
	} {
		code, out, errOut := realExec(t, dir, tc.stdin, append([]string{"exec"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("exec %v: exit %d, want %d; stdout %q, want %q; stderr %s", tc.args, code, tc.code, out, tc.out, errOut)
		}
	}
	if code, _, errOut := realExec(t, dir, "", "exec", "container.z", "--", "true"); code != 1 || !strings.Contains(errOut, "its nodes are container.a, container.b") {
		t.Errorf("exec in an unknown node: exit %d, %s", code, errOut)
	}

	// The link set down pulls the cable: eth0 inside the node has no
	// carrier (as `ip link show` inside it says), and status says down.
	for _, state := range []string{"down", "up"} {
		if code, out := realRun(t, dir, "apply", "-auto-approve", "-var", "state="+state); code != 0 {
			t.Fatalf("apply -var state=%s: exit %d\n%s", state, code, out)
		}
		_, out, _ := realExec(t, dir, "", "exec", "container.a", "--", "ip", "link", "show", "eth0")
		if strings.Contains(out, "NO-CARRIER") != (state == "down") {
			t.Errorf("link %s: inside container.a, ip link show eth0 says:\n%s", state, out)
		}
		if _, out, _ := realExec(t, dir, "", "status", "-var", "state="+state); !strings.Contains(out, "link.ab  "+state) {
			t.Errorf("status after the link went %s:\n%s", state, out)
		}
	}

	// console: a shell on a terminal, Ctrl-] detaches, the container runs on.
	tm := newTmux(t, []string{"LABFORM_TEST_MAIN=real"}, os.Args[0], "-chdir="+dir, "console", "container.a")
	tm.waitFor("Ctrl-] detaches", 20*time.Second)
	tm.send("echo console-$((6*7))", "Enter")
	tm.waitFor("console-42", 10*time.Second)
	tm.send("C-]")
	tm.waitFor("Detached; the node keeps running.", 10*time.Second)
	for i := 0; !tm.exited(); i++ {
		if i == 50 {
			t.Fatalf("labform console still runs after Ctrl-]:\n%s", tm.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The console's shell is gone with it: only the container's init is
	// left in its cgroup.
	procs, _ := filepath.Glob("/sys/fs/cgroup/pids/*/" + a.Host.RuntimeID + "/cgroup.procs")
	procs2, _ := filepath.Glob("/sys/fs/cgroup/pids/" + a.Host.RuntimeID + "/cgroup.procs")
	procs = append(procs, procs2...)
	if len(procs) != 1 {
		t.Fatalf("container.a's pids cgroup: %v", procs)
	}
	for i := 0; ; i++ {
		b, _ := os.ReadFile(procs[0])
		if n := len(strings.Fields(string(b))); n == 1 {
			break
		} else if i == 50 {
			t.Fatalf("%d processes left in container.a after the console detached (%s)", n, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, out, _ := realExec(t, dir, "", "exec", "container.a", "--", "echo", "still here"); code != 0 || out != "still here\n" {
		t.Errorf("after the console detached: exit %d, %q", code, out)
	}

	// exec from a terminal gets a terminal; the shell's exit code is
	// labform's. The shell that tmux runs writes it to a file: tmux's own
	// pane_dead_status came back empty once under load.
	statusFile := filepath.Join(t.TempDir(), "status")
	tm = newTmux(t, []string{"LABFORM_TEST_MAIN=real"}, os.Args[0], "-chdir="+dir, "exec", "container.a;", "echo", "$?", ">", statusFile)
	tm.send("tty; echo tty-$((2*3))", "Enter")
	scr := tm.waitFor("tty-6", 20*time.Second)
	if !strings.Contains(scr, "/dev/pts/") {
		t.Errorf("exec from a terminal has no terminal inside:\n%s", scr)
	}
	tm.send("exit 5", "Enter")
	var status []byte
	for i := 0; ; i++ {
		var err error
		if status, err = os.ReadFile(statusFile); err == nil && len(status) > 0 {
			break
		}
		if i == 100 {
			t.Fatalf("labform exec still runs after the shell's exit:\n%s", tm.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := strings.TrimSpace(string(status)); got != "5" {
		t.Errorf("labform exec exited %s, want the shell's 5:\n%s", got, tm.screen())
	}
}

// consoleInit boots to a shell on the serial console: what a person
// reaches with labform console.
const consoleInit = `#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev
$B mount -t proc proc /proc
$B mount -t devtmpfs dev /dev
echo GUEST-SHELL-READY
exec $B sh
`

const consoleLab = `
lab {
  name             = %q
  allow_host_paths = true # the cached Debian kernel
}

vm "r" {
  provider    = qemu
  accel       = "tcg"
  memory      = 128
  adapters    = 1
  console     = "telnet"
  kernel      = %q
  initrd      = %q
  kernel_args = "console=ttyS0 panic=-1 quiet"
}
`

// TestSystem_consoleOfAQEMUGuest boots the busybox-initramfs guest the
// QEMU tests boot, attaches to its serial console (QEMU's telnet port)
// through tmux as a person would, runs a command there and detaches; the
// VM runs on. exec on it says it has no guest agent.
func TestSystem_consoleOfAQEMUGuest(t *testing.T) {
	systest.Require(t, "qemu-system-x86_64", "tmux")
	kernel, initrd := systest.GuestKit(t, consoleInit, nil)
	dir := t.TempDir()
	name := fmt.Sprintf("lfcon%d", os.Getpid()%100000)
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(fmt.Sprintf(consoleLab, name, kernel, initrd)), 0o644)
	real, _ := filepath.EvalSymlinks(dir)
	labID := providers.LabID(real)
	t.Cleanup(func() {
		realRun(t, dir, "destroy", "-auto-approve")
		for slot := 0; slot < providers.Slots; slot++ {
			run := filepath.Join(qemu.RunRoot, providers.ObjectID(labID, "vm.r", slot))
			for _, pid := range qemuProcesses(run) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			os.RemoveAll(run)
		}
		labnet.DeleteNetns(providers.LabNetns(name))
	})
	if code, out := realRun(t, dir, "apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	_, out, _ := realExec(t, dir, "", "status")
	if !strings.Contains(out, "vm.r  qemu") || !strings.Contains(out, "telnet 127.0.0.1 ") {
		t.Fatalf("status shows no running VM with a telnet console:\n%s", out)
	}

	tm := newTmux(t, []string{"LABFORM_TEST_MAIN=real"}, os.Args[0], "-chdir="+dir, "console", "vm.r")
	tm.waitFor("Ctrl-] detaches", 20*time.Second)
	// The guest boots under TCG for a few seconds: type until its shell
	// answers.
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(tm.screen(), "console-42") {
		if time.Now().After(deadline) {
			t.Fatalf("the guest's shell never answered on the console:\n%s", tm.screen())
		}
		tm.send("echo console-$((6*7))", "Enter")
		time.Sleep(2 * time.Second)
	}
	tm.send("C-]")
	tm.waitFor("Detached; the node keeps running.", 10*time.Second)
	for i := 0; !tm.exited(); i++ {
		if i == 50 {
			t.Fatalf("labform console still runs after Ctrl-]:\n%s", tm.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, out, _ := realExec(t, dir, "", "status", "-json"); !strings.Contains(out, `"state": "running"`) {
		t.Errorf("the VM does not run on after the console detached:\n%s", out)
	}
	// A second attachment works: the console was left free.
	tm2 := newTmux(t, []string{"LABFORM_TEST_MAIN=real"}, os.Args[0], "-chdir="+dir, "console", "vm.r")
	tm2.waitFor("Ctrl-] detaches", 20*time.Second)
	tm2.send("echo again-$((6*8))", "Enter")
	tm2.waitFor("again-48", 20*time.Second)
	tm2.send("C-]")
	tm2.waitFor("Detached", 10*time.Second)

	code, _, errOut := realExec(t, dir, "", "exec", "vm.r", "--", "uname", "-a")
	if code != 1 || !strings.Contains(errOut, "no guest agent channel (guest_agent = false)") || !strings.Contains(errOut, "labform console vm.r") {
		t.Errorf("exec on a VM without a guest agent: exit %d\n%s", code, errOut)
	}
}
