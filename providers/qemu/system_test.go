package qemu

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/link"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
)

// vmLab is a lab of the test's own with the real QEMU provider. Cleanup
// destroys it through labform, then kills by pid (from the pidfiles in
// the lab's own working directory, never by name) and removes the lab
// namespace.
type vmLab struct {
	*systest.Lab
	prov *Provider
}

func newVMLab(t testing.TB, tag string) *vmLab {
	systest.Require(t, "qemu-system-x86_64", "qemu-img", "ip")
	prov := New()
	l := &vmLab{Lab: systest.NewLab(t, fmt.Sprintf("lfq%d%s", os.Getpid()%100000, tag), prov), prov: prov}
	t.Cleanup(func() {
		recs, _ := l.Store.Resources() // before destroy: what might need removing by hand
		ids := map[string]string{}
		for addr := range recs {
			ids[addr] = l.ID(addr)
		}
		l.DestroyQuietly()
		for _, id := range ids {
			b, _ := os.ReadFile(filepath.Join(runDirOf(id), pidFile))
			var pid int
			fmt.Sscan(string(b), &pid)
			if start, ok := procStart(pid); ok && pid > 1 && cmdlineHas(pid, runDirOf(id)) {
				t.Logf("cleanup: killing QEMU pid %d left by the test", pid)
				kill(pid, start)
				waitGone(context.Background(), pid, start, 5*time.Second)
			}
			os.RemoveAll(runDirOf(id))
			unthrottle(cgroupID(id))
		}
		labnet.DeleteNetns(providers.LabNetns(l.Name))
	})
	return l
}

// value is an instance's value in state.
func (l *vmLab) value(addr string) cty.Value {
	l.T.Helper()
	rec, err := l.Store.Get(addr)
	if err != nil || rec == nil {
		l.T.Fatalf("%s is not in state (%v)", addr, err)
	}
	v, _, err := planner.DecodeRecord(l.Reg, rec.Type, rec.Provider, rec.Value)
	if err != nil {
		l.T.Fatal(err)
	}
	return v
}

func (l *vmLab) pid(addr string) int { return num(l.value(addr), "pid") }

// status asks the VM's QMP socket directly.
func (l *vmLab) status(addr string) string {
	l.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := dialQMP(ctx, l.value(addr).GetAttr("qmp_socket").AsString(), 0)
	if err != nil {
		l.T.Fatal(err)
	}
	defer q.Close()
	st, err := q.status()
	if err != nil {
		l.T.Fatal(err)
	}
	return st
}

func (l *vmLab) change(p *planner.Plan, addr string) *planner.Change {
	for _, c := range p.Changes {
		if c.Addr.String() == addr {
			return c
		}
	}
	return nil
}

// taps lists the interfaces of the lab namespace.
func (l *vmLab) taps() map[string]bool {
	links, err := labnet.Links(providers.LabNetns(l.Name))
	if err != nil {
		return map[string]bool{}
	}
	delete(links, "lo")
	return links
}

// converged fails the test when a plan now has changes: after an apply,
// the lab must be what the configuration says (when names the moment).
func (l *vmLab) converged(when string) {
	l.T.Helper()
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		l.T.Fatalf("not converged %s:\n%s", when, render.Plan(plan, false))
	}
}

// waitStatus waits up to limit for the VM's QMP status to be want.
func (l *vmLab) waitStatus(addr, want string, limit time.Duration) {
	l.T.Helper()
	for end := time.Now().Add(limit); l.status(addr) != want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			l.T.Fatalf("QMP status %q after %s, want %s", l.status(addr), limit, want)
		}
	}
}

// restartPlanned plans and fails the test unless the VM is to be
// restarted for its QMP status (the reason names it); it returns the
// plan as text.
func (l *vmLab) restartPlanned(addr, status string) string {
	l.T.Helper()
	_, plan := l.Plan(planner.NormalMode)
	text := render.Plan(plan, false)
	c := l.change(plan, addr)
	if c == nil || c.Action != planner.Update || c.Cost.String() != "restart" || !strings.Contains(c.Reason, status) {
		l.T.Fatalf("a VM in status %s: want a restart naming the status:\n%s", status, text)
	}
	return text
}

// noFilesOf fails the test when the VM of id left its run directory or
// its working directory.
func (l *vmLab) noFilesOf(id, what string) {
	l.T.Helper()
	for _, dir := range []string{runDirOf(id), l.prov.dirOf(id)} {
		if _, err := os.Stat(dir); err == nil {
			l.T.Errorf("%s left %s", what, dir)
		}
	}
}

// runningVM writes a diskless VM a of 64 MiB, applies it and returns its
// address.
func (l *vmLab) runningVM() string {
	l.T.Helper()
	l.Write(diskless(64, "running"))
	l.Apply(planner.NormalMode)
	return "vm.a"
}

func diskless(memory int, state string) string {
	return fmt.Sprintf(`
vm "a" {
  provider = qemu
  accel    = "tcg"
  memory   = %d
  adapters = 2
  console  = "telnet"
  state    = %q
}
`, memory, state)
}

// TestSystem_lifecycle: start, QMP running, console and taps in place;
// pause and resume in place (same pid); a memory change restarts (new
// pid); a killed QEMU is drift that apply repairs; destroy leaves no
// process, tap or file.
func TestSystem_lifecycle(t *testing.T) {
	l := newVMLab(t, "l")
	const a = "vm.a"
	l.Write(diskless(64, "running"))
	l.Apply(planner.NormalMode)
	pid := l.pid(a)
	if st := l.status(a); st != "running" {
		t.Fatalf("QMP status %q, want running", st)
	}
	port := num(l.value(a), "console_port")
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second); err != nil {
		t.Errorf("the telnet console on port %d does not answer from the host: %v", port, err)
	} else {
		c.Close()
	}
	taps := l.taps()
	for n := 0; n < 2; n++ {
		if name := labnet.PortName(l.ID(a), n); !taps[name] {
			t.Errorf("tap %s (port %d) is not in the lab namespace: %v", name, n, taps)
		}
	}
	l.converged("after create")

	for _, st := range []string{"paused", "running"} {
		l.Write(diskless(64, st))
		_, plan := l.Plan(planner.NormalMode)
		if c := l.change(plan, a); c == nil || c.Action != planner.Update || c.Cost != 1 {
			t.Fatalf("state %s: want an in-place update:\n%s", st, render.Plan(plan, false))
		}
		l.Apply(planner.NormalMode)
		if got := l.pid(a); got != pid {
			t.Fatalf("state %s: the pid changed from %d to %d; in place means the same process", st, pid, got)
		}
		if got := l.status(a); got != st {
			t.Fatalf("QMP status %q, want %q", got, st)
		}
	}

	l.Write(diskless(96, "running"))
	_, plan := l.Plan(planner.NormalMode)
	if c := l.change(plan, a); c == nil || c.Action != planner.Update || c.Cost.String() != "restart" {
		t.Fatalf("memory change: want a restart:\n%s", render.Plan(plan, false))
	}
	l.Apply(planner.NormalMode)
	newPid := l.pid(a)
	if newPid == pid || l.status(a) != "running" {
		t.Fatalf("memory change: pid %d -> %d, status %s: want a new running process", pid, newPid, l.status(a))
	}
	if _, ok := procStart(pid); ok {
		t.Fatalf("the old QEMU (pid %d) still runs after the restart", pid)
	}

	syscall.Kill(newPid, syscall.SIGKILL)
	waitGone(context.Background(), newPid, 0, 5*time.Second)
	for i := 0; i < 100; i++ {
		if _, ok := procStart(newPid); !ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, plan = l.Plan(planner.NormalMode)
	if c := l.change(plan, a); c == nil || c.Action != planner.Create {
		t.Fatalf("a killed QEMU: want it created again:\n%s", render.Plan(plan, false))
	}
	l.Apply(planner.NormalMode)
	if l.status(a) != "running" || l.pid(a) == newPid {
		t.Fatal("apply did not bring the killed VM back")
	}
	last := l.pid(a)
	dir := l.prov.dirOf(l.ID(a))

	l.Apply(planner.DestroyMode)
	if _, ok := procStart(last); ok {
		t.Errorf("destroy left QEMU (pid %d) running", last)
	}
	if taps := l.taps(); len(taps) > 0 {
		t.Errorf("destroy left taps: %v", taps)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("destroy left the working directory %s", dir)
	}
	if _, err := os.Stat(filepath.Join(labnet.Dir, providers.LabNetns(l.Name))); err == nil {
		t.Errorf("destroy left the lab namespace")
	}
}

func sum(t testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// TestSystem_linkedCloneLeavesBaseUnchanged: the VM writes to a qcow2
// overlay whose backing file is the base; the base's checksum is the same
// after the VM ran and after destroy. A missing image is an error that
// names the disk and the path.
func TestSystem_linkedCloneLeavesBaseUnchanged(t *testing.T) {
	l := newVMLab(t, "c")
	base := filepath.Join(l.Dir, "base.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "64M").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	before := sum(t, base)
	l.Write(`
vm "c" {
  provider = qemu
  accel    = "tcg"
  memory   = 64
  image    = "base.qcow2"
  adapters = 0
  console  = "none"
}
`)
	l.Apply(planner.NormalMode)
	overlay := filepath.Join(l.prov.dirOf(l.ID("vm.c")), "hda.qcow2")
	out, err := exec.Command("qemu-img", "info", "-U", overlay).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "backing file: "+base) {
		t.Fatalf("the overlay %s does not have the base as backing file: %v\n%s", overlay, err, out)
	}
	if l.status("vm.c") != "running" {
		t.Fatal("the VM does not run")
	}
	if got := sum(t, base); got != before {
		t.Fatal("the base image changed while the VM ran")
	}
	l.Apply(planner.DestroyMode)
	if got := sum(t, base); got != before {
		t.Fatal("the base image changed with destroy")
	}

	l.Write(`
vm "missing" {
  provider = qemu
  accel    = "tcg"
  image    = "images/nope.qcow2"
  adapters = 0
}
`)
	p, plan := l.Plan(planner.NormalMode)
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if res == nil || res.Err() == nil || !strings.Contains(res.Err().Error(), "disk hda image") || !strings.Contains(res.Err().Error(), filepath.Join(l.Dir, "images/nope.qcow2")) {
		t.Fatalf("a missing image: want an error naming disk hda and the path, got %v", res.Err())
	}
}

// TestSystem_fortyAdaptersAndStartErrors: forty adapters (PCI bridges)
// start; a QEMU that refuses its arguments gives the end of its log.
func TestSystem_fortyAdaptersAndStartErrors(t *testing.T) {
	l := newVMLab(t, "f")
	l.Write(`
vm "many" {
  provider = qemu
  accel    = "tcg"
  memory   = 64
  adapters = 40
  console  = "none"
}
`)
	l.Apply(planner.NormalMode)
	if st := l.status("vm.many"); st != "running" {
		t.Fatalf("status %q", st)
	}
	if n := len(l.taps()); n != 40 {
		t.Fatalf("%d taps in the lab namespace, want 40", n)
	}
	l.Write(`
vm "many" {
  provider   = qemu
  accel      = "tcg"
  memory     = 64
  adapters   = 40
  console    = "none"
  extra_args = "-device no-such-device-model"
}
`)
	p, plan := l.Plan(planner.NormalMode)
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if res == nil || res.Err() == nil || !strings.Contains(res.Err().Error(), "no-such-device-model") || !strings.Contains(res.Err().Error(), logFile) {
		t.Fatalf("want QEMU's own complaint from the end of qemu.log, got %v", res.Err())
	}
}

// TestSystem_tapsJoinLinks: a link joins a VM's tap like any
// port, and after the VM restarts (new taps) the link joins the new ones.
func TestSystem_tapsJoinLinks(t *testing.T) {
	if err := labnet.ProbeMirred(); err != nil {
		t.Skipf("this kernel cannot make wires, which the test checks the taps for: %v", err)
	}
	l := newVMLab(t, "k")
	l.Reg.Register(link.New())
	lab := func(memory int) string {
		return fmt.Sprintf(`
vm "a" {
  provider = qemu
  accel    = "tcg"
  memory   = %d
  adapters = 1
  console  = "none"
}
vm "b" {
  provider = qemu
  accel    = "tcg"
  memory   = 64
  adapters = 1
  console  = "none"
}
link "ab" {
  endpoints = [vm.a.port[0], vm.b.port[0]]
}
`, memory)
	}
	joined := func(when string) {
		t.Helper()
		h, ns, err := labnet.HandleIn(providers.LabNetns(l.Name))
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		defer h.Close()
		// Two ports make a wire: each tap's ingress is redirected to the
		// other tap.
		taps := map[string]netlink.Link{}
		for _, node := range []string{"vm.a", "vm.b"} {
			tap, err := h.LinkByName(labnet.PortName(l.ID(node), 0))
			if err != nil {
				t.Fatalf("%s: %s's tap: %v", when, node, err)
			}
			taps[node] = tap
		}
		for node, peer := range map[string]string{"vm.a": "vm.b", "vm.b": "vm.a"} {
			to, tag, _, err := labnet.Redirected(h, taps[node])
			if err != nil || tag == 0 || to != taps[peer].Attrs().Index {
				t.Fatalf("%s: %s's tap is not wired to %s's (redirected to ifindex %d, tag %d, %v)", when, node, peer, to, tag, err)
			}
		}
	}
	l.Write(lab(64))
	l.Apply(planner.NormalMode)
	joined("after create")
	pidB := l.pid("vm.b")
	l.Write(lab(96))
	l.Apply(planner.NormalMode)
	joined("after vm.a restarted")
	if l.pid("vm.b") != pidB {
		t.Fatal("restarting vm.a restarted vm.b")
	}
	l.converged("after the apply")
}

// TestSystem_shutdownThrottleAndPriority: cpu_throttling puts QEMU in a
// cpu cgroup with its quota, process_priority renices it, and with
// acpi_shutdown a guest that ignores the power button (this diskless VM
// has no OS) is quit once shutdown_timeout has passed.
func TestSystem_shutdownThrottleAndPriority(t *testing.T) {
	l := newVMLab(t, "s")
	l.Write(`
vm "t" {
  provider         = qemu
  accel            = "tcg"
  memory           = 64
  adapters         = 0
  console          = "none"
  cpu_throttling   = 50
  process_priority = "low"
  acpi_shutdown    = true
  shutdown_timeout = 1
}
`)
	l.Apply(planner.NormalMode)
	pid := l.pid("vm.t")
	cg := filepath.Join(cpuCgroupRoot, cgroupID(l.ID("vm.t")))
	if b, err := os.ReadFile(filepath.Join(cg, "cpu.cfs_quota_us")); err != nil || strings.TrimSpace(string(b)) != "50000" {
		t.Errorf("cpu_throttling = 50: want a quota of 50000us per 100000us in %s, got %q (%v)", cg, b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs")); !strings.Contains(string(b), fmt.Sprint(pid)) {
		t.Errorf("QEMU (pid %d) is not in its cpu cgroup %s: %q", pid, cg, b)
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) < 17 || f[16] != "5" {
		t.Errorf("process_priority = low: want nice 5, /proc/%d/stat says %v", pid, f[16])
	}
	start := time.Now()
	l.Apply(planner.DestroyMode)
	if d := time.Since(start); d < time.Second {
		t.Errorf("destroy took %v: with acpi_shutdown it must wait shutdown_timeout (1s) for the guest first", d)
	}
	if _, ok := procStart(pid); ok {
		t.Fatalf("QEMU (pid %d) survived destroy", pid)
	}
	if _, err := os.Stat(cg); err == nil {
		t.Errorf("destroy left the cgroup %s", cg)
	}
}

// TestSystem_createBeforeDestroy: -replace on a VM with
// create_before_destroy starts the new QEMU, with taps and a run
// directory of its own, while the old one runs; then the old one goes.
func TestSystem_createBeforeDestroy(t *testing.T) {
	l := newVMLab(t, "c")
	const a = "vm.a"
	l.Write(diskless(64, "running") + "\n")
	src, _ := os.ReadFile(filepath.Join(l.Dir, "main.lab.hcl"))
	cbd := strings.Replace(string(src), `state    = "running"`, "state    = \"running\"\n  lifecycle {\n    create_before_destroy = true\n  }", 1)
	os.WriteFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(cbd), 0o644)
	l.Apply(planner.NormalMode)
	oldID, oldPid := l.ID(a), l.pid(a)
	plan := l.ApplyReplacing(planner.NormalMode, a)
	if c := l.change(plan, a); c == nil || c.Action != planner.CreateThenDelete {
		t.Fatalf("want create-then-delete:\n%s", render.Plan(plan, false))
	}
	newID, newPid := l.ID(a), l.pid(a)
	if newID == oldID || newPid == oldPid || l.status(a) != "running" {
		t.Fatalf("id %s -> %s, pid %d -> %d: want a new running VM under a new ID", oldID, newID, oldPid, newPid)
	}
	if _, ok := procStart(oldPid); ok {
		t.Errorf("the old QEMU (pid %d) still runs", oldPid)
	}
	taps := l.taps()
	for n := 0; n < 2; n++ {
		if !taps[labnet.PortName(newID, n)] || taps[labnet.PortName(oldID, n)] {
			t.Errorf("port %d: want the new VM's tap only: %v", n, taps)
		}
	}
	l.noFilesOf(oldID, "the old VM")
	l.converged("after the apply")
}

// TestSystem_restartInterruptedAfterStart: labform killed during a
// restart, after the new QEMU started and before state recorded it. The
// recorded process is gone, the new one runs and holds the taps. The next
// plan finds the new process through its pidfile (no "tap busy", no
// second QEMU), reads its real memory, and one apply converges.
func TestSystem_restartInterruptedAfterStart(t *testing.T) {
	l := newVMLab(t, "r")
	a := l.runningVM()
	id := l.ID(a)
	rec, _ := l.Store.Get(a)
	old := decodePrivate(rec.Private)
	// What the killed apply did: stop the old process, start the new one.
	v := l.value(a)
	if err := l.prov.stop(context.Background(), id, v, old); err != nil {
		t.Fatal(err)
	}
	m := v.AsValueMap()
	m["memory"] = cty.NumberIntVal(96)
	if _, err := l.prov.run(context.Background(), a, id, cty.ObjectVal(m), old, nil); err != nil {
		t.Fatal(err)
	}
	started := l.prov.fromPidfile(id)
	if started.Pid == 0 || started.Pid == old.Pid {
		t.Fatalf("no new QEMU from the pidfile: %+v", started)
	}

	l.Write(diskless(96, "running"))
	_, plan := l.Plan(planner.NormalMode)
	if c := l.change(plan, a); c == nil || c.Action != planner.NoOp {
		t.Fatalf("want no change (the new process already has 96 MiB):\n%s", render.Plan(plan, false))
	}
	l.Apply(planner.NormalMode)
	if got := l.pid(a); got != started.Pid {
		t.Fatalf("state's pid %d, want the running QEMU's %d", got, started.Pid)
	}
	l.converged("after the apply")
}

// TestSystem_killedVMLeavesNothingAfterDestroy: a QEMU killed outside
// labform reads as gone; destroy still removes what it left (its run
// directory, its working directory).
func TestSystem_killedVMLeavesNothingAfterDestroy(t *testing.T) {
	l := newVMLab(t, "k")
	a := l.runningVM()
	id, pid := l.ID(a), l.pid(a)
	start, _ := procStart(pid)
	kill(pid, start)
	waitGone(context.Background(), pid, start, 5*time.Second)
	plan := l.Apply(planner.DestroyMode)
	if c := l.change(plan, a); c == nil || c.Action != planner.Delete || !strings.Contains(c.Reason, "deleted outside labform") {
		t.Fatalf("want the remains of the killed VM destroyed:\n%s", render.Plan(plan, false))
	}
	l.noFilesOf(id, "destroy")
}
