package container

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

const oneContainer = `
container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 1
}
`

// tryPlan refreshes and plans, returning the error instead of failing.
func tryPlan(l *sysLab, mode planner.Mode) (*planner.Planner, *planner.Plan, error) {
	lab, diags := config.Load(l.Dir, l.Reg)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	p := &planner.Planner{Registry: l.Reg, Store: l.Store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 4}
	plan, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: mode, Refresh: true})
	if diags.HasErrors() {
		return nil, nil, diags
	}
	return p, plan, nil
}

// planOK plans and fails the test on any error, with the error.
func planOK(t *testing.T, l *sysLab, what string) *planner.Plan {
	t.Helper()
	_, plan, err := tryPlan(l, planner.NormalMode)
	if err != nil {
		t.Fatalf("%s: plan failed: %v", what, err)
	}
	return plan
}

// TestSystem_runcLeftoverDoesNotBlock fabricates what a runc killed
// mid-create leaves under the runtime's root (a directory with an
// exec.fifo and no state.json), for a container of the lab and for one
// that is not the lab's: plan, apply and destroy go on, the lab's leftover
// is removed by its exact id and the container created again, and the
// other is left alone.
func TestSystem_runcLeftoverDoesNotBlock(t *testing.T) {
	l := newSysLab(t)
	l.Write(oneContainer)
	l.Apply(planner.NormalMode)
	id := nameFor(l.ID("container.a")).id
	root := l.prov.rt.root
	// leave makes the leftover, age old.
	leave := func(id string, age time.Duration) {
		exec.Command("runc", "--root", root, "delete", "--force", id).Run()
		dir := filepath.Join(root, id)
		if err := os.MkdirAll(dir, 0o711); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "exec.fifo"), nil, 0o600)
		then := time.Now().Add(-age)
		os.Chtimes(dir, then, then)
	}
	// A young leftover may be a create under way: absent, left alone.
	leave(id, 0)
	if plan := planOK(t, l, "with a young leftover"); !strings.HasPrefix(actionOf(plan, "container.a"), "create") {
		t.Fatalf("container.a with a young leftover: %s, want create", actionOf(plan, "container.a"))
	}
	if !fileExists(filepath.Join(root, id)) {
		t.Error("refresh removed a leftover younger than leftoverGrace")
	}
	leave(id, time.Minute)
	foreign := "lf-notthislabs"
	leave(foreign, time.Minute)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(root, foreign)) })

	// runc list complains on stderr about both: the JSON on stdout is read.
	if out, _ := exec.Command("runc", "--root", root, "list").CombinedOutput(); !strings.Contains(string(out), "load container") {
		t.Logf("runc list did not complain about the leftovers (another runc version?):\n%s", out)
	}
	plan := planOK(t, l, "with leftovers")
	if got := actionOf(plan, "container.a"); got != "create/in-place" && !strings.HasPrefix(got, "create") {
		t.Fatalf("container.a: %s, want create (its runc state is a leftover)", got)
	}
	if fileExists(filepath.Join(root, id)) {
		t.Error("the lab's leftover is still there after refresh")
	}
	if !fileExists(filepath.Join(root, foreign)) {
		t.Error("refresh removed a leftover that is not the lab's")
	}
	l.Apply(planner.NormalMode)
	if st := l.state("container.a"); st.Status != "running" {
		t.Fatalf("after apply: %s", st.Status)
	}
	if plan := planOK(t, l, "after apply"); plan.HasChanges() {
		t.Fatalf("plan after apply has changes: %v", plan.Changes)
	}

	// A destroy meeting a leftover goes through too.
	leave(id, time.Minute)
	p, plan, err := tryPlan(l, planner.DestroyMode)
	if err != nil {
		t.Fatalf("destroy plan with a leftover: %v", err)
	}
	if res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{}); res == nil || res.Err() != nil {
		t.Fatalf("destroy with a leftover: %v", res.Err())
	}
	if fileExists(filepath.Join(root, id)) {
		t.Error("the lab's leftover survived destroy")
	}
}

// TestSystem_createInterruptedMidRunc interrupts applies while runc is
// creating the container (the context's cancel kills runc's whole process
// group, as a second Ctrl-C does), at several moments: the next plan
// succeeds and one apply converges, whatever runc left.
func TestSystem_createInterruptedMidRunc(t *testing.T) {
	l := newSysLab(t)
	l.Write(oneContainer)
	n := nameFor(l.ID("container.a"))
	// The bundle's log, read while the provider runs: its path from the
	// lab's WorkDir, never from the provider's fields.
	logPath := filepath.Join(l.Dir, ".labform", "container", n.id, "container.log")
	var leftovers int
	for _, d := range []time.Duration{5, 15, 25, 35, 50, 80} {
		d *= time.Millisecond
		p, plan, err := tryPlan(l, planner.NormalMode)
		if err != nil {
			t.Fatal(err)
		}
		// Cancel once runc runs: the bundle's log appears just before.
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for !fileExists(logPath) && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(d)
			cancel()
		}()
		p.Apply(ctx, plan, planner.ApplyOptions{})
		cancel()
		if fileExists(filepath.Join(l.prov.rt.root, n.id)) {
			if _, err := l.prov.rt.state(context.Background(), n.id); err != nil {
				leftovers++
			}
		}
		planOK(t, l, "after an interrupted create")
		l.Apply(planner.NormalMode)
		if st := l.state("container.a"); st.Status != "running" {
			t.Fatalf("cancel after %v: %s after the next apply", d, st.Status)
		}
		if plan := planOK(t, l, "after the repairing apply"); plan.HasChanges() {
			t.Fatalf("cancel after %v: plan after apply has changes", d)
		}
		l.Apply(planner.DestroyMode)
		if fileExists(filepath.Join(labnet.Dir, n.netns)) {
			t.Fatalf("cancel after %v: destroy left the netns", d)
		}
	}
	t.Logf("%d of 6 interrupted creates left a runc directory runc could not load", leftovers)
}

// TestSystem_hungRuncListTimesOut refreshes with a runc whose list hangs:
// with tool_timeout = "1s" the refresh fails after about a second, saying
// what was run and that it timed out.
func TestSystem_hungRuncListTimesOut(t *testing.T) {
	requireTools(t)
	fake := filepath.Join(t.TempDir(), "runc")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nsleep 300\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	lab := providers.Lab{Name: "lfhung", Dir: t.TempDir()}
	p := New()
	cfg := cty.ObjectVal(map[string]cty.Value{"runtime": cty.StringVal(fake), "tool_timeout": cty.StringVal("1s")})
	if err := p.Configure(context.Background(), providers.ConfigureRequest{Lab: lab, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p.rt.root, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(p.rt.root) })
	start := time.Now()
	_, errs := p.ReadMany(context.Background(), []providers.ReadRequest{{Type: "container", Addr: "container.a", Prior: cty.NullVal(cty.DynamicPseudoType)}})
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("the refresh took %v with tool_timeout = 1s", took)
	}
	if errs[0] == nil || !strings.Contains(errs[0].Error(), fake+" --root "+p.rt.root+" list --format json") || !strings.Contains(errs[0].Error(), "timed out after 1s") {
		t.Fatalf("want a timeout naming runc list, got %v", errs[0])
	}
	// A bad setting is refused at Configure.
	bad := cty.ObjectVal(map[string]cty.Value{"runtime": cty.StringVal("runc"), "tool_timeout": cty.StringVal("soon")})
	if err := New().Configure(context.Background(), providers.ConfigureRequest{Lab: lab, Config: bad}); err == nil || !strings.Contains(err.Error(), `tool_timeout = "soon"`) {
		t.Errorf("tool_timeout = \"soon\": %v", err)
	}
}
