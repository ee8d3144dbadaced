package planner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labform/labform/internal/memprovider"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
)

// nodeAccess adds a console log and exec to the in-memory container
// provider: the log is one file for every node, exec exits with code.
type nodeAccess struct {
	*memprovider.Provider
	log  string
	code atomic.Int64
}

func (n *nodeAccess) ConsoleLog(providers.DescribeRequest) string { return n.log }
func (n *nodeAccess) Exec(_ context.Context, req providers.ExecRequest) (int, error) {
	fmt.Fprintf(req.Stdout, "ran %s\n", strings.Join(req.Argv, " "))
	return int(n.code.Load()), nil
}

const readyNodes = `
container "a" {
  rootfs = "r"
  ready {
    console  = "UP"
    exec     = ["vtysh", "-c", "show version"]
    timeout  = "1s"
    interval = "50ms"
  }
}
container "b" {
  rootfs     = "r"
  depends_on = [container.a]
}
`

// TestReady_taint: a node whose ready conditions do not hold in time
// fails with what was last seen, is kept as tainted, and what depends on
// it is not attempted; the next plan replaces it, and once its conditions
// hold the apply finishes.
func TestReady_taint(t *testing.T) {
	var na *nodeAccess
	log := filepath.Join(t.TempDir(), "console.log")
	e := newEnvWith(t, map[string]string{"main.lab.hcl": readyNodes}, func(real providers.Provider, m *memprovider.Provider) providers.Provider {
		if real.Name() != "container" {
			return m
		}
		na = &nodeAccess{Provider: m, log: log}
		na.code.Store(1)
		return na
	})
	os.WriteFile(log, []byte("booting\nstill booting\n"), 0o644)
	_, res := e.apply(planner.PlanOptions{Refresh: true})
	var nr *planner.NotReadyError
	if err := res.Errors["container.a"]; !errors.As(err, &nr) {
		t.Fatalf("container.a: %v, want a NotReadyError", err)
	}
	msg := res.Errors["container.a"].Error()
	for _, want := range []string{"not ready after 1s", `console "UP": not met; last seen: the console's last lines:`, "| still booting",
		"exec vtysh -c show version: not met; last seen: exit status 1; output:", "| ran vtysh -c show version"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	if len(res.Skipped) != 1 || res.Skipped[0] != "container.b" {
		t.Errorf("skipped %v, want container.b (it depends on a node not ready)", res.Skipped)
	}
	if rec, _ := e.store.Get("container.a"); rec == nil || rec.Tainted != "not ready 1s after its create" {
		t.Fatalf("container.a in state: %+v, want it tainted", rec)
	}

	_, plan := e.plan(planner.PlanOptions{Refresh: true})
	if got := actions(plan); got["container.a"] != "replace/replace" || got["container.b"] != "create/none" {
		t.Errorf("plan after the timeout: %v", got)
	}
	out := render.Plan(plan, false)
	if !strings.Contains(out, "# container.a is tainted, so must be replaced (not ready 1s after its create)") {
		t.Errorf("the plan does not say container.a is tainted:\n%s", out)
	}

	os.WriteFile(log, []byte("booting\nUP\n"), 0o644)
	na.code.Store(0)
	if _, res := e.apply(planner.PlanOptions{Refresh: true}); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if rec, _ := e.store.Get("container.a"); rec == nil || rec.Tainted != "" {
		t.Errorf("container.a after a replacement that got ready: %+v", rec)
	}
	if _, plan := e.plan(planner.PlanOptions{Refresh: true}); plan.HasChanges() {
		t.Errorf("not converged:\n%s", render.Plan(plan, false))
	}
}

// TestReady_firstInterruptEndsTheWait: a first Ctrl-C (ApplyOptions.Stop)
// ends a ready wait at once, not at its timeout: the node, already made,
// is kept tainted, and what depends on it does not start.
func TestReady_firstInterruptEndsTheWait(t *testing.T) {
	log := filepath.Join(t.TempDir(), "console.log")
	os.WriteFile(log, []byte("booting\n"), 0o644)
	e := newEnvWith(t, map[string]string{"main.lab.hcl": strings.Replace(readyNodes, `timeout  = "1s"`, `timeout  = "10m"`, 1)},
		func(real providers.Provider, m *memprovider.Provider) providers.Provider {
			if real.Name() != "container" {
				return m
			}
			na := &nodeAccess{Provider: m, log: log}
			na.code.Store(1)
			return na
		})
	p, plan := e.plan(planner.PlanOptions{Refresh: true})
	stop, interrupt := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, interrupt)
	start := time.Now()
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{Stop: stop})
	mustOK(t, diags)
	if took := time.Since(start); took > time.Minute {
		t.Fatalf("the apply waited %s after the interrupt; want the wait ended at it", took)
	}
	err := res.Errors["container.a"]
	if err == nil || !strings.Contains(err.Error(), "stopped waiting for it to be ready") || !strings.Contains(err.Error(), "kept in state as tainted") {
		t.Fatalf("container.a: %v; want the stopped wait", err)
	}
	// As the user reads it: the engine names the node, once.
	if msg := res.Err().Error(); !strings.Contains(msg, "container.a: stopped waiting") || strings.Count(msg, "container.a") != 1 {
		t.Errorf("the apply's error should name container.a once, in front:\n%s", msg)
	}
	if rec, _ := e.store.Get("container.a"); rec == nil || !strings.Contains(rec.Tainted, "stopped waiting") {
		t.Fatalf("container.a in state: %+v; want it kept, tainted", rec)
	}
	if rec, _ := e.store.Get("container.b"); rec != nil || !res.Stopped {
		t.Fatalf("container.b: %+v, stopped %v; want it not started", rec, res.Stopped)
	}
	if _, plan := e.plan(planner.PlanOptions{Refresh: true}); actions(plan)["container.a"] != "replace/replace" {
		t.Errorf("plan after the interrupt: %v; want container.a replaced", actions(plan))
	}
}
