package planner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

func TestEngine_failureStopsDependantsOnly(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": twoNodes})
	e.mem["container"].Fail = func(action, a string) error {
		if a == "container.host[0]" {
			return errors.New("runc: container init failed")
		}
		return nil
	}
	p, plan := e.plan(planner.PlanOptions{})
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	mustOK(t, diags)
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "container.host[0]: runc: container init failed") {
		t.Fatalf("want the provider's error with the address, got %v", err)
	}
	if strings.Join(res.Skipped, ",") != "link.wire[0]" {
		t.Fatalf("skipped %v, want only link.wire[0], which needs the failed container", res.Skipped)
	}
	// Independent branches finished and are in state.
	recs, _ := e.store.Resources()
	for _, a := range []string{"vm.spine", "container.host[1]", "link.wire[1]"} {
		if recs[a] == nil {
			t.Errorf("%s was not applied or not saved", a)
		}
	}
	if recs["container.host[0]"] != nil || recs["link.wire[0]"] != nil {
		t.Error("the failed instance or its dependant is in state")
	}
	// The failed create's intent stays open (the provider may have left
	// something behind); the next plan looks for it, finds nothing, and
	// plans the create again.
	e.mem["container"].Fail = nil
	_, plan = e.plan(planner.PlanOptions{Refresh: true})
	if add, _, _ := plan.Counts(); add != 2 {
		t.Fatalf("after the failure the plan adds %d, want 2", add)
	}
}

func TestEngine_destroyOrderIsReverse(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": twoNodes})
	e.apply(planner.PlanOptions{})
	var mu sync.Mutex
	var deleted []string
	e.mem["link"].Fail = func(action, a string) error {
		mu.Lock()
		deleted = append(deleted, a)
		mu.Unlock()
		return nil
	}
	// Each node goes only after the links that join it are gone.
	needs := map[string][]string{
		"container.host[0]": {"link.wire[0]"},
		"container.host[1]": {"link.wire[1]"},
		"vm.spine":          {"link.wire[0]", "link.wire[1]"},
	}
	check := func(action, a string) error {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range needs[a] {
			found := false
			for _, d := range deleted {
				found = found || d == l
			}
			if !found {
				return errors.New(a + " deleted before " + l)
			}
		}
		return nil
	}
	e.mem["container"].Fail = check
	e.mem["qemu"].Fail = check
	_, res := e.apply(planner.PlanOptions{Mode: planner.DestroyMode})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestEngine_createBeforeDestroy(t *testing.T) {
	lab := `
container "web" {
  rootfs = "v1"
  lifecycle {
    create_before_destroy = true
  }
}
`
	e := newEnv(t, map[string]string{"main.lab.hcl": lab})
	e.apply(planner.PlanOptions{})
	var mu sync.Mutex
	var order []string
	e.mem["container"].Fail = func(action, a string) error {
		mu.Lock()
		order = append(order, action)
		mu.Unlock()
		return nil
	}
	// The in-memory provider refuses a create while the old object exists,
	// so remove it when the delete comes: what matters here is the order.
	e.mem["container"].Remove("container.web")
	e.write(map[string]string{"main.lab.hcl": strings.Replace(lab, `"v1"`, `"v2"`, 1)})
	p, plan := e.plan(planner.PlanOptions{Refresh: false})
	if got := plan.Changes[0].Action; got != planner.CreateThenDelete {
		t.Fatalf("action %s, want create-then-delete", got)
	}
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	mustOK(t, diags)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "create,delete" {
		t.Fatalf("order %v, want create then delete", order)
	}
	if v, ok := e.mem["container"].Get("container.web"); ok {
		t.Logf("left: %v", v.GetAttr("rootfs"))
	}
	recs, _ := e.store.Resources()
	if recs["container.web"] == nil {
		t.Fatal("the new object is not in state")
	}
}

func TestEngine_preventDestroy(t *testing.T) {
	lab := `
vm "keep" {
  image = "a.qcow2"
  lifecycle {
    prevent_destroy = true
  }
}
`
	e := newEnv(t, map[string]string{"main.lab.hcl": lab})
	e.apply(planner.PlanOptions{})
	e.write(map[string]string{"main.lab.hcl": strings.Replace(lab, "a.qcow2", "b.qcow2", 1)})
	_, diags := e.planner().Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Instance cannot be destroyed") {
		t.Fatalf("replacing a prevent_destroy VM must be refused, got %v", diags)
	}
	if diags[0].Subject == nil || diags[0].Subject.Start.Line != 2 {
		t.Errorf("the error must point at the resource: %v", diags[0].Subject)
	}
}

func TestEngine_targetExcludeReplace(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": twoNodes})
	tg, _ := addr.ParseTarget("link.wire[1]")
	_, plan := e.plan(planner.PlanOptions{Targets: []addr.Target{tg}})
	got := []string{}
	for _, c := range plan.Changes {
		got = append(got, c.Addr.String())
	}
	if strings.Join(got, " ") != "container.host[1] link.wire[1] vm.spine" {
		t.Fatalf("-target link.wire[1] plans %v, want it and what it needs", got)
	}
	ex, _ := addr.ParseTarget("container.host")
	_, plan = e.plan(planner.PlanOptions{Excludes: []addr.Target{ex}})
	got = got[:0]
	for _, c := range plan.Changes {
		got = append(got, c.Addr.String())
	}
	if strings.Join(got, " ") != "vm.spine" {
		t.Fatalf("-exclude container.host plans %v, want only vm.spine (the links need the containers)", got)
	}
	e.apply(planner.PlanOptions{})
	rp := addr.Resource{Type: "vm", Name: "spine"}.Instance(addr.Key{})
	_, plan = e.plan(planner.PlanOptions{Replace: []addr.Instance{rp}, Refresh: true})
	if a := actions(plan)["vm.spine"]; a != "replace/replace" {
		t.Fatalf("-replace vm.spine: %s", a)
	}
}

func TestEngine_refreshOnlyAndBatchedRead(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": twoNodes})
	e.apply(planner.PlanOptions{})
	// Drift: a container's memory limit changed by hand.
	v, _ := e.mem["container"].Get("container.host[0]")
	m := v.AsValueMap()
	res := m["resources"].AsValueMap()
	res["memory"] = cty.StringVal("1GiB")
	m["resources"] = cty.ObjectVal(res)
	e.mem["container"].Set("container.host[0]", cty.ObjectVal(m))
	e.mem["container"].Batch = true

	before := e.mem["container"].Calls.ReadMany.Load()
	_, plan := e.plan(planner.PlanOptions{Mode: planner.RefreshOnlyMode, Refresh: true})
	if n := e.mem["container"].Calls.ReadMany.Load() - before; n != 1 {
		t.Errorf("refresh of two containers made %d batched reads, want 1", n)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].Action != planner.Read {
		t.Fatalf("refresh-only plan: %v", actions(plan))
	}
	text := render.Plan(plan, false)
	if !strings.Contains(text, `~ memory = "64MiB" -> "1GiB"`) {
		t.Errorf("refresh-only plan does not show the drift:\n%s", text)
	}
	// Applying it writes the live value to state and changes nothing live.
	e.apply(planner.PlanOptions{Mode: planner.RefreshOnlyMode, Refresh: true})
	_, plan = e.plan(planner.PlanOptions{Refresh: false})
	if a := actions(plan)["container.host[0]"]; a != "update/in-place" {
		t.Fatalf("after refresh-only apply, a state-only plan should update the container back in place, got %s", a)
	}
	if v, _ := e.mem["container"].Get("container.host[0]"); v.GetAttr("resources").GetAttr("memory").AsString() != "1GiB" {
		t.Fatal("refresh-only apply changed the lab")
	}
}

func TestEngine_knownAfterApplyIsResolvedBeforeTheProviderSeesIt(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": `
container "a" {
  rootfs = "r"
}
container "b" {
  rootfs   = "r"
  hostname = "peer-${container.a.pid}"
  env = {
    PEER_NETNS = container.a.netns
  }
}
`})
	p, plan := e.plan(planner.PlanOptions{})
	if !strings.Contains(render.Plan(plan, false), "hostname        = (known after apply)") {
		t.Fatalf("the plan should show b's hostname as known after apply:\n%s", render.Plan(plan, false))
	}
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	mustOK(t, diags)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	a, _ := e.mem["container"].Get("container.a")
	b, _ := e.mem["container"].Get("container.b")
	want := "peer-" + a.GetAttr("pid").AsBigFloat().Text('f', 0)
	if got := b.GetAttr("hostname").AsString(); got != want {
		t.Fatalf("b's hostname = %q, want %q", got, want)
	}
	if got := b.GetAttr("env").Index(cty.StringVal("PEER_NETNS")); !got.RawEquals(a.GetAttr("netns")) {
		t.Fatalf("b's env = %#v", got)
	}
	// And the next plan is empty: the computed values are in state now.
	_, plan = e.plan(planner.PlanOptions{Refresh: true})
	if plan.HasChanges() {
		t.Fatalf("plan after apply:\n%s", render.Plan(plan, false))
	}
}

func TestEngine_journalAfterFailures(t *testing.T) {
	cases := map[string]struct {
		err      error
		wantOpen []string
	}{
		// The provider may have left something: the next plan looks.
		"failed midway": {errors.New("qemu died"), []string{"create container.host[0]"}},
		// Nothing was touched: nothing to look for.
		"refused": {fmt.Errorf("runc is missing: %w", providers.ErrNothingDone), nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"main.lab.hcl": twoNodes})
			e.mem["container"].Fail = func(action, a string) error {
				if a == "container.host[0]" {
					return tc.err
				}
				return nil
			}
			_, res := e.apply(planner.PlanOptions{})
			if res.Err() == nil || len(res.Skipped) != 1 {
				t.Fatalf("want one failure and its dependant skipped: %v, skipped %v", res.Err(), res.Skipped)
			}
			j, _ := e.store.Journal()
			var open []string
			for _, in := range j {
				open = append(open, string(in.Action)+" "+in.Addr)
			}
			if strings.Join(open, ",") != strings.Join(tc.wantOpen, ",") {
				t.Fatalf("open intents %v, want %v (the skipped link never ran: its entry must be closed)", open, tc.wantOpen)
			}
		})
	}
}

// TestEngine_deposedObjectIsDestroyedLater: a create_before_destroy whose
// delete of the old object does not happen (it fails here; a kill -9 does
// the same) leaves the old object in the journal, not lost: the next plan
// destroys it, and only then is the entry closed.
func TestEngine_deposedObjectIsDestroyedLater(t *testing.T) {
	lab := `
container "web" {
  rootfs = "v1"
  lifecycle {
    create_before_destroy = true
  }
}
`
	e := newEnv(t, map[string]string{"main.lab.hcl": lab})
	e.apply(planner.PlanOptions{})
	// The in-memory provider keys objects by address: make room for the new one.
	e.mem["container"].Remove("container.web")
	e.mem["container"].Fail = func(action, a string) error {
		if action == "delete" {
			return errors.New("the old container would not die")
		}
		return nil
	}
	e.write(map[string]string{"main.lab.hcl": strings.Replace(lab, `"v1"`, `"v2"`, 1)})
	p, plan := e.plan(planner.PlanOptions{})
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if res.Err() == nil || !strings.Contains(res.Err().Error(), "could not delete the old one") {
		t.Fatalf("want the failed delete reported, got %v", res.Err())
	}
	if j, _ := e.store.Journal(); len(j) != 1 || j[0].Action != "delete-deposed" || len(j[0].Private) == 0 {
		t.Fatalf("the old object must stay in the journal with its private data: %+v", j)
	}

	// The next plan destroys the deposed object; a failure keeps it.
	_, plan = e.plan(planner.PlanOptions{Refresh: true})
	var deposed *planner.Change
	for _, c := range plan.Changes {
		if c.Deposed {
			deposed = c
		}
	}
	if deposed == nil || deposed.Action != planner.Delete || deposed.Before.GetAttr("rootfs").AsString() != "v1" {
		t.Fatalf("no delete of the deposed v1 object in the plan: %v", actions(plan))
	}
	if !strings.Contains(render.Plan(plan, false), "# container.web (deposed object) will be destroyed") {
		t.Fatalf("the plan does not say so:\n%s", render.Plan(plan, false))
	}
	p, plan = e.plan(planner.PlanOptions{Refresh: true})
	res, _ = p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if j, _ := e.store.Journal(); res.Err() == nil || len(j) != 1 {
		t.Fatalf("a failed deposed delete must keep its entry: err %v, journal %v", res.Err(), j)
	}
	e.mem["container"].Fail = nil
	p, plan = e.plan(planner.PlanOptions{Refresh: true})
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	mustOK(t, diags)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if j, _ := e.store.Journal(); len(j) != 0 {
		t.Fatalf("after the deposed delete the journal must be empty: %v", j)
	}
}
