package planner_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
)

// recordingHook records what an apply and a refresh tell it.
type recordingHook struct {
	mu                      sync.Mutex
	preApply, postApply     []string
	preRefresh, postRefresh []string
	gone                    []string
}

func (h *recordingHook) PreApply(c *planner.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.preApply = append(h.preApply, c.Addr.String())
}

func (h *recordingHook) PostApply(c *planner.Change, _ error, _ time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.postApply = append(h.postApply, c.Addr.String())
}

func (h *recordingHook) PreRefresh(a addr.Instance) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.preRefresh = append(h.preRefresh, a.String())
}

func (h *recordingHook) PostRefresh(a addr.Instance, gone bool, _ error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.postRefresh = append(h.postRefresh, a.String())
	if gone {
		h.gone = append(h.gone, a.String())
	}
}

// unknownAtPlan has an argument known only once container.a exists: Apply
// resolves it.
const unknownAtPlan = `
container "a" {
  rootfs = "rootfs"
}
container "b" {
  rootfs  = "rootfs"
  command = ["sleep", tostring(container.a.pid)]
}
`

// Apply resolves what was unknown at plan time in its own copy of the
// changes: the plan keeps the unknown.
func TestApply_leavesThePlanUnchanged(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": unknownAtPlan})
	p, plan := e.plan(planner.PlanOptions{Refresh: true})
	var b *planner.Change
	for _, c := range plan.Changes {
		if c.Addr.String() == "container.b" {
			b = c
		}
	}
	if b == nil || b.After.GetAttr("command").IsWhollyKnown() {
		t.Fatalf("container.b's command should be unknown at plan time: %#v", b)
	}
	before := b.After
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	mustOK(t, diags)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if !b.After.RawEquals(before) {
		t.Errorf("Apply changed the plan's value of container.b:\n%#v\nwas\n%#v", b.After, before)
	}
	if v, ok := e.mem["container"].Get("container.b"); !ok || !v.GetAttr("command").IsWhollyKnown() {
		t.Errorf("container.b was not created with its resolved command: %#v", v)
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// Apply needs nothing but the plan: a planner that never planned applies
// another's plan, the plan is the same afterwards, and the hook given to
// Apply hears of every action while the planner's Hook stays unset.
func TestApply_takesThePlanExplicitly(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": twoNodes})
	_, plan := e.plan(planner.PlanOptions{Refresh: true})
	if plan.Desired == nil {
		t.Fatal("the plan does not carry the configuration it was made from")
	}
	before := render.Plan(plan, false)
	afters := map[string]string{}
	for _, c := range plan.Changes {
		afters[c.Addr.String()] = c.After.GoString()
	}

	fresh := e.planner() // has never planned: no state carried over
	h := &recordingHook{}
	res, diags := fresh.Apply(context.Background(), plan, planner.ApplyOptions{Hook: h})
	mustOK(t, diags)
	if err := res.Err(); err != nil || res.Added != 5 {
		t.Fatalf("apply: added %d, err %v", res.Added, err)
	}
	if fresh.Hook != nil {
		t.Error("Apply set the planner's Hook")
	}
	if after := render.Plan(plan, false); after != before {
		t.Errorf("Apply changed the plan:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, c := range plan.Changes {
		if got := c.After.GoString(); got != afters[c.Addr.String()] {
			t.Errorf("%s: Apply changed the planned value:\n%s\nwas\n%s", c.Addr, got, afters[c.Addr.String()])
		}
	}
	want := []string{"container.host[0]", "container.host[1]", "link.wire[0]", "link.wire[1]", "vm.spine"}
	if got := sorted(h.preApply); !slices.Equal(got, want) {
		t.Errorf("PreApply for %v, want %v", got, want)
	}
	if got := sorted(h.postApply); !slices.Equal(got, want) {
		t.Errorf("PostApply for %v, want %v", got, want)
	}
	outs, _ := e.store.Outputs()
	if _, ok := outs["pids"]; !ok {
		t.Error("outputs not written from the plan's configuration")
	}

	// Refresh: every object is read once and reported; one removed by
	// hand is reported gone.
	e.mem["container"].Remove("container.host[1]")
	p := e.planner()
	rh := &recordingHook{}
	p.Hook = rh
	if _, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true}); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := sorted(rh.preRefresh); !slices.Equal(got, want) {
		t.Errorf("PreRefresh for %v, want %v", got, want)
	}
	if got := sorted(rh.postRefresh); !slices.Equal(got, want) {
		t.Errorf("PostRefresh for %v, want %v", got, want)
	}
	if !slices.Equal(rh.gone, []string{"container.host[1]"}) {
		t.Errorf("gone %v, want [container.host[1]]", rh.gone)
	}
}
