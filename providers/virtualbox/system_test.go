package virtualbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
)

var (
	buildOnce sync.Once
	simPath   string
	buildErr  error
)

// buildSim builds the VBoxManage simulator (internal/vboxsim) once per
// test process.
func buildSim(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vboxsim")
		if err != nil {
			buildErr = err
			return
		}
		simPath = filepath.Join(dir, "VBoxManage")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		out, err := exec.Command(goBin, "build", "-o", simPath, "../../internal/vboxsim/VBoxManage").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the simulator: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return simPath
}

// vbLab is a lab with the real virtualbox provider driving the simulator,
// whose machines live in a directory of the test's own, with a template
// VM registered there.
type vbLab struct {
	*systest.Lab
	sim, home, tpl string
}

func newVBLab(t *testing.T, tag string) *vbLab {
	systest.Require(t) // root: the ports are veth pairs
	l := &vbLab{Lab: systest.NewLab(t, fmt.Sprintf("lfv%d%s", os.Getpid()%100000, tag), New()), sim: buildSim(t)}
	l.home = filepath.Join(l.Dir, "vbox")
	t.Setenv("VBOXSIM_HOME", l.home)
	l.tpl = "router-base"
	l.vbox("createvm", "--name", l.tpl, "--ostype", "Linux_64", "--register")
	l.vbox("modifyvm", l.tpl, "--memory", "128")
	os.Remove(filepath.Join(l.home, "calls.log"))
	t.Cleanup(func() {
		l.DestroyQuietly()
		labnet.DeleteNetns(providers.LabNetns(l.Name)) // the veth pairs go with it
	})
	return l
}

// vbox runs the simulator as a user would, failing the test on error.
func (l *vbLab) vbox(args ...string) string {
	l.T.Helper()
	out, err := exec.Command(l.sim, args...).CombinedOutput()
	if err != nil {
		l.T.Fatalf("VBoxManage %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (l *vbLab) write(state string, memory int) {
	l.Write(fmt.Sprintf(`
provider "virtualbox" {
  vboxmanage = %q
}

vm "r" {
  provider     = virtualbox
  template     = %q
  memory       = %d
  cpus         = 2
  adapters     = 2
  adapter_type = "virtio"
  mac_address  = "08:00:27:00:10:00"
  state        = %q
}
`, l.sim, l.tpl, memory, state))
}

var (
	hashed  = regexp.MustCompile(`lf([hp])[0-9a-f]{8}`)
	pipeRe  = regexp.MustCompile(`[0-9a-f]{12}\.pipe`)
	uuidish = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	idRe    = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
)

// calls returns, and forgets, the VBoxManage calls since the last time,
// with the test's own paths and names made stable.
func (l *vbLab) calls() string {
	l.T.Helper()
	path := filepath.Join(l.home, "calls.log")
	b, _ := os.ReadFile(path)
	os.Remove(path)
	s := strings.ReplaceAll(string(b), l.Dir, "$LAB")
	s = strings.ReplaceAll(s, l.Name, "$NAME")
	s = hashed.ReplaceAllString(s, "lf${1}<hash>")
	s = pipeRe.ReplaceAllString(s, "<hash>.pipe")
	s = uuidish.ReplaceAllString(s, "<uuid>")
	return idRe.ReplaceAllString(s, "<id>")
}

func (l *vbLab) info() map[string]string {
	l.T.Helper()
	return parseMachineReadable(l.vbox("showvminfo", l.Name+"-vm.r", "--machinereadable"))
}

func (l *vbLab) change(p *planner.Plan) *planner.Change {
	for _, c := range p.Changes {
		if c.Addr.String() == "vm.r" {
			return c
		}
	}
	return nil
}

// TestSystem_callSequences pins the VBoxManage calls of a create, an
// in-place change (pause), a restart (memory) and a destroy; the restart
// powers the VM off before modifyvm, never after.
func TestSystem_callSequences(t *testing.T) {
	l := newVBLab(t, "g")
	var all strings.Builder
	step := func(name, state string, memory int, mode planner.Mode) {
		l.calls() // the test's own showvminfo calls are not labform's
		if mode == planner.NormalMode {
			l.write(state, memory)
		}
		l.Apply(mode)
		fmt.Fprintf(&all, "# %s\n%s\n", name, l.calls())
	}
	step("create", "running", 256, planner.NormalMode)
	info := l.info()
	if info["VMState"] != "running" || info["memory"] != "256" || info["nic1"] != "bridged" || info["nictype2"] != "virtio" ||
		info["macaddress2"] != "080027001001" || info["cableconnected2"] != "on" || !strings.HasPrefix(info["bridgeadapter1"], "lfh") {
		t.Fatalf("the clone is not as configured: %v", info)
	}
	step("pause (in place)", "paused", 256, planner.NormalMode)
	if l.info()["VMState"] != "paused" {
		t.Fatal("not paused")
	}
	step("resume and memory (restart)", "running", 512, planner.NormalMode)
	if got := l.info(); got["VMState"] != "running" || got["memory"] != "512" {
		t.Fatalf("after the restart: %v", got)
	}
	step("stop (ACPI power button, then wait for power off)", "stopped", 512, planner.NormalMode)
	if l.info()["VMState"] != "poweroff" {
		t.Fatal("not stopped")
	}
	step("destroy", "", 0, planner.DestroyMode)
	golden.Check(t, "../../testdata/virtualbox/calls.golden", []byte(all.String()))
	if !strings.Contains(l.vbox("list", "vms"), `"router-base"`) || strings.Contains(l.vbox("list", "vms"), "vm.r") {
		t.Fatalf("destroy must remove the clone and keep the template:\n%s", l.vbox("list", "vms"))
	}
}

// TestSystem_driftRefusalsAndRetries: a VM powered off behind labform's
// back is drift that apply repairs; an adapter disconnected by hand is
// rewired in place with controlvm (no restart); a machine lock held by
// another session is retried; the simulator refuses what VirtualBox
// refuses.
func TestSystem_driftRefusalsAndRetries(t *testing.T) {
	l := newVBLab(t, "d")
	name := l.Name + "-vm.r"
	l.write("running", 256)
	l.Apply(planner.NormalMode)
	l.calls()

	// VirtualBox's refusals, as a user would meet them.
	out, err := exec.Command(l.sim, "modifyvm", name, "--memory", "64").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is already locked for a session") || !strings.Contains(string(out), "VBOX_E_INVALID_OBJECT_STATE") {
		t.Fatalf("modifyvm on a running VM: want VirtualBox's lock error, got %v: %s", err, out)
	}
	out, err = exec.Command(l.sim, "showvminfo", "nosuch", "--machinereadable").CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), "Could not find a registered machine named 'nosuch'") {
		t.Fatalf("an unknown VM: want exit 1 and VirtualBox's words, got %d: %s", code, out)
	}
	l.calls()

	l.vbox("controlvm", name, "poweroff")
	_, plan := l.Plan(planner.NormalMode)
	if c := l.change(plan); c == nil || c.Action != planner.Update || !strings.Contains(render.Plan(plan, false), `"stopped" -> "running"`) {
		t.Fatalf("a VM powered off by hand: want state stopped -> running in place:\n%s", render.Plan(plan, false))
	}
	l.Apply(planner.NormalMode)
	if l.info()["VMState"] != "running" {
		t.Fatal("apply did not start the VM again")
	}
	l.calls()

	l.vbox("controlvm", name, "setlinkstate2", "off")
	_, plan = l.Plan(planner.NormalMode)
	if out := render.Plan(plan, false); !strings.Contains(out, "nic2 cable disconnected") {
		t.Fatalf("a disconnected adapter: want it in the plan:\n%s", out)
	}
	l.calls()
	l.Apply(planner.NormalMode)
	calls := l.calls()
	if !strings.Contains(calls, "controlvm $NAME-vm.r setlinkstate2 on") || strings.Contains(calls, "modifyvm") || strings.Contains(calls, "startvm") {
		t.Fatalf("rewiring a running VM must be controlvm only, no modifyvm, no restart:\n%s", calls)
	}
	if l.info()["cableconnected2"] != "on" {
		t.Fatal("the cable is still disconnected")
	}

	// Another session holds the lock for the next two calls on the VM.
	os.MkdirAll(filepath.Join(l.home, "busy"), 0o755)
	os.WriteFile(filepath.Join(l.home, "busy", name), []byte("2"), 0o644)
	l.write("paused", 256)
	l.Apply(planner.NormalMode)
	if l.info()["VMState"] != "paused" {
		t.Fatal("the pause did not go through after the lock was released")
	}
	if calls := l.calls(); strings.Count(calls, "showvminfo $NAME-vm.r --machinereadable") < 3 {
		t.Fatalf("want the locked call retried:\n%s", calls)
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render.Plan(plan, false))
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

// TestVBoxManageAbsent: without VBoxManage, apply says so and changes
// nothing.
func TestVBoxManageAbsent(t *testing.T) {
	l := systest.NewLab(t, "lfvabsent", New())
	l.Write(`
provider "virtualbox" {
  vboxmanage = "/nonexistent/VBoxManage"
}
vm "r" {
  provider = virtualbox
  template = "router-base"
}
`)
	p, plan := l.Plan(planner.NormalMode)
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if res == nil || res.Err() == nil || !strings.Contains(res.Err().Error(), "is VirtualBox installed?") || !strings.Contains(res.Err().Error(), "/nonexistent/VBoxManage") {
		t.Fatalf("want a clear error naming the missing program, got %v", res.Err())
	}
	if rec, _ := l.Store.Get("vm.r"); rec != nil {
		t.Fatal("a failed create left the VM in state")
	}
}

// TestSystem_createBeforeDestroy: -replace on a VM with
// create_before_destroy clones the new VM under a name of its own while
// the old one runs, then unregisters the old one; its ports are new
// veths and the old ones go.
func TestSystem_createBeforeDestroy(t *testing.T) {
	l := newVBLab(t, "c")
	l.write("running", 256)
	src, _ := os.ReadFile(filepath.Join(l.Dir, "main.lab.hcl"))
	cbd := strings.Replace(string(src), `state        = "running"`, "state        = \"running\"\n  lifecycle {\n    create_before_destroy = true\n  }", 1)
	os.WriteFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(cbd), 0o644)
	l.Apply(planner.NormalMode)
	oldID := l.ID("vm.r")
	l.ApplyReplacing(planner.NormalMode, "vm.r")
	newID := l.ID("vm.r")
	vms := l.vbox("list", "vms")
	if newID == oldID || strings.Contains(vms, `"`+l.Name+`-vm.r"`) || !strings.Contains(vms, l.Name+"-vm.r-"+newID[:6]) {
		t.Fatalf("id %s -> %s; want only the new VM registered:\n%s", oldID, newID, vms)
	}
	links, _ := labnet.Links(providers.LabNetns(l.Name))
	for n := 0; n < 2; n++ {
		if links[labnet.PortName(oldID, n)] || !links[labnet.PortName(newID, n)] {
			t.Fatalf("port %d: want the new VM's veth only: %v", n, links)
		}
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Fatal("not converged after the replacement")
	}
}

// TestSystem_renameKeepsTheVM: a VM moved to another address in state
// keeps its clone: its name is found in the private data recorded at
// create, and destroy finds the clone marked with the object's ID.
func TestSystem_renameKeepsTheVM(t *testing.T) {
	l := newVBLab(t, "m")
	l.write("running", 256)
	l.Apply(planner.NormalMode)
	rec, _ := l.Store.Get("vm.r")
	rec.Addr = "vm.s"
	if err := l.Store.Put(rec); err != nil {
		t.Fatal(err)
	}
	l.Store.Delete("vm.r")
	src, _ := os.ReadFile(filepath.Join(l.Dir, "main.lab.hcl"))
	os.WriteFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(strings.Replace(string(src), `vm "r"`, `vm "s"`, 1)), 0o644)
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Fatalf("the renamed VM is not kept:\n%s", render.Plan(plan, false))
	}
	l.Apply(planner.DestroyMode)
	if vms := l.vbox("list", "vms"); strings.Contains(vms, l.Name+"-vm.r") {
		t.Fatalf("destroy left the clone:\n%s", vms)
	}
}

// TestSystem_refreshManyVMs pins the VBoxManage calls of refreshing a lab
// of three VMs: one list --long vms, whatever the VMs' states, and a VM
// unregistered behind labform's back reads as gone from that same call.
func TestSystem_refreshManyVMs(t *testing.T) {
	l := newVBLab(t, "n")
	l.Write(fmt.Sprintf(`
provider "virtualbox" {
  vboxmanage = %q
}

vm "r" {
  count    = 3
  provider = virtualbox
  template = %q
  memory   = 256
  adapters = 2
}
`, l.sim, l.tpl))
	l.Apply(planner.NormalMode)
	var all strings.Builder
	step := func(name string, want func(*planner.Plan) bool) {
		l.calls()
		_, plan := l.Plan(planner.NormalMode)
		fmt.Fprintf(&all, "# %s\n%s\n", name, l.calls())
		if !want(plan) {
			t.Fatalf("%s: unexpected plan:\n%s", name, render.Plan(plan, false))
		}
	}
	step("refresh of three running VMs", func(p *planner.Plan) bool { return !p.HasChanges() })
	l.vbox("controlvm", l.Name+"-vm.r[1]", "poweroff")
	l.vbox("controlvm", l.Name+"-vm.r[2]", "setlinkstate1", "off")
	step("refresh after one VM was powered off and a cable pulled by hand", func(p *planner.Plan) bool {
		out := render.Plan(p, false)
		return strings.Contains(out, `"stopped" -> "running"`) && strings.Contains(out, "nic1 cable disconnected")
	})
	l.vbox("unregistervm", l.Name+"-vm.r[1]", "--delete")
	step("refresh after one VM was unregistered by hand", func(p *planner.Plan) bool {
		for _, c := range p.Changes {
			if c.Addr.String() == "vm.r[1]" && c.Action == planner.Create {
				return true
			}
		}
		return false
	})
	golden.Check(t, "../../testdata/virtualbox/calls-refresh.golden", []byte(all.String()))
}
