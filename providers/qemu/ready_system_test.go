package qemu

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
)

// readyInit is a busybox initramfs's /init that says it is up on the
// serial console and stays.
const readyInit = `#!/bin/busybox sh
echo GUEST-UP from the initramfs
/bin/busybox sleep 3600
`

// TestSystem_readyConsole boots two busybox-initramfs guests under TCG
// with a telnet console: one whose ready block waits for the line its
// /init prints, which apply meets; one waiting for a line that never
// comes, which apply fails after its timeout with the console's last
// lines, keeping the VM in state as tainted for the next plan to replace.
func TestSystem_readyConsole(t *testing.T) {
	l := newVMLab(t, "r")
	kernel, initrd := guestKitWith(t, readyInit, nil)
	l.AllowHostPaths = true
	vm := func(name, ready string) string {
		return fmt.Sprintf(`
vm %q {
  provider    = qemu
  accel       = "tcg"
  memory      = 128
  console     = "telnet"
  kernel      = %q
  initrd      = %q
  kernel_args = "console=ttyS0 panic=-1 quiet"
  ready {
    %s
    interval = "500ms"
  }
}
`, name, kernel, initrd, ready)
	}
	l.Write(vm("up", `console = "GUEST-UP"`) + vm("late", `console = "NEVER-PRINTED"
    timeout = "60s"`))
	plan := func() (*planner.Planner, *planner.Plan) {
		t.Helper()
		lab, diags := config.Load(l.Dir, l.Reg)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		p := &planner.Planner{Registry: l.Reg, Store: l.Store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 4}
		pl, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return p, pl
	}
	p, pl := plan()
	took := &elapsedHook{took: map[string]time.Duration{}}
	p.Hook = took
	res, diags := p.Apply(context.Background(), pl, planner.ApplyOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, failed := res.Errors["vm.up"]; failed {
		t.Fatalf("vm.up, whose console shows GUEST-UP, failed: %v", res.Errors["vm.up"])
	}
	err := res.Errors["vm.late"]
	if err == nil {
		t.Fatal("vm.late, waiting for a line that never comes, did not fail")
	}
	t.Logf("vm.up was ready %v after its create began (TCG boot to /init)", took.get("vm.up").Round(time.Millisecond))
	t.Logf("vm.late: %v", err)
	for _, want := range []string{"not ready after 1m0s", `console "NEVER-PRINTED": not met; last seen: the console's last lines:`, "| GUEST-UP from the initramfs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("vm.late's error lacks %q", want)
		}
	}
	if rec, _ := l.Store.Get("vm.late"); rec == nil || rec.Tainted == "" {
		t.Errorf("vm.late is not in state as tainted: %+v", rec)
	}
	if rec, _ := l.Store.Get("vm.up"); rec == nil || rec.Tainted != "" {
		t.Errorf("vm.up is tainted or missing: %+v", rec)
	}
	_, pl = plan()
	out := render.Plan(pl, false)
	if !strings.Contains(out, "# vm.late is tainted, so must be replaced (not ready 1m0s after its create)") || strings.Contains(out, "vm.up") {
		t.Errorf("the plan after the timeout:\n%s", out)
	}
}

// elapsedHook records how long each action took.
type elapsedHook struct {
	mu   sync.Mutex
	took map[string]time.Duration
}

func (h *elapsedHook) PreApply(*planner.Change) {}
func (h *elapsedHook) PostApply(c *planner.Change, _ error, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.took[c.Addr.String()] = d
}
func (h *elapsedHook) get(a string) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.took[a]
}
