package planner_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/state"
)

// byID makes every in-memory provider of e key its objects by the IDs the
// engine hands over, as the real providers name host objects.
func byID(e *env) *env {
	for _, m := range e.mem {
		m.ByID = true
	}
	return e
}

const cbdLab = `
container "web" {
  rootfs = "v1"
  lifecycle {
    create_before_destroy = true
  }
}
`

func recordID(t *testing.T, s *state.Store, addr string) string {
	t.Helper()
	rec, err := s.Get(addr)
	if err != nil || rec == nil || rec.ID == "" {
		t.Fatalf("%s: no record with an ID (%v)", addr, err)
	}
	return rec.ID
}

// TestIdentity_createBeforeDestroy: the new object gets an ID of its own,
// lives beside the old one, and the old one goes.
func TestIdentity_createBeforeDestroy(t *testing.T) {
	e := byID(newEnv(t, map[string]string{"main.lab.hcl": cbdLab}))
	e.apply(planner.PlanOptions{})
	old := recordID(t, e.store, "container.web")
	e.write(map[string]string{"main.lab.hcl": strings.Replace(cbdLab, `"v1"`, `"v2"`, 1)})
	_, res := e.apply(planner.PlanOptions{})
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	now := recordID(t, e.store, "container.web")
	if keys := e.mem["container"].Keys(); now == old || len(keys) != 1 || keys[0] != now {
		t.Fatalf("ID %s -> %s, objects %v: want only the new object", old, now, keys)
	}
}

// TestIdentity_createBeforeDestroyCutShort: the new object's create fails
// after it made the object (a kill -9 does the same), before it was
// recorded. The old object stays: no plan deletes it, in any mode; the new
// one is found through its create's journal entry and removed.
func TestIdentity_createBeforeDestroyCutShort(t *testing.T) {
	for _, mode := range []planner.Mode{planner.NormalMode, planner.DestroyMode} {
		t.Run(string(mode), func(t *testing.T) {
			e := byID(newEnv(t, map[string]string{"main.lab.hcl": cbdLab}))
			e.apply(planner.PlanOptions{})
			old := recordID(t, e.store, "container.web")
			mem := e.mem["container"]
			e.write(map[string]string{"main.lab.hcl": strings.Replace(cbdLab, `"v1"`, `"v2"`, 1)})
			mem.Fail = func(action, a string) error {
				if action == "create" {
					return errors.New("killed")
				}
				return nil
			}
			_, res := e.apply(planner.PlanOptions{})
			if res.Err() == nil {
				t.Fatal("want the create to fail")
			}
			mem.Fail = nil
			// What the cut create made: its object, under the ID its
			// journal entry names.
			j, _ := e.store.Journal()
			newID := ""
			for _, in := range j {
				if in.Action == "create" {
					newID = in.ID
				}
			}
			if newID == "" || newID == old {
				t.Fatalf("journal %+v: want the create's entry with a new ID", j)
			}
			v, _ := mem.Get(old)
			mem.Set(newID, v)

			e.write(map[string]string{"main.lab.hcl": cbdLab}) // back to v1
			_, plan := e.plan(planner.PlanOptions{Mode: mode, Refresh: true})
			deletes := 0
			for _, c := range plan.Changes {
				if c.Action == planner.Delete {
					deletes++
					if c.PriorID == old && mode == planner.NormalMode {
						t.Fatalf("the plan deletes the live object %s: %s", old, c.Reason)
					}
				}
			}
			want := map[planner.Mode]int{planner.NormalMode: 1, planner.DestroyMode: 2}[mode]
			if deletes != want {
				t.Fatalf("%d deletes planned, want %d:\n%+v", deletes, want, plan.Changes)
			}
			p, plan := e.plan(planner.PlanOptions{Mode: mode, Refresh: true})
			if res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{}); diags.HasErrors() || res.Err() != nil {
				t.Fatal(diags, res.Err())
			}
			keys := mem.Keys()
			switch {
			case mode == planner.NormalMode && (len(keys) != 1 || keys[0] != old):
				t.Fatalf("objects %v, want the old one %s only", keys, old)
			case mode == planner.DestroyMode && len(keys) != 0:
				t.Fatalf("objects %v left after destroy", keys)
			}
			if j, _ := e.store.Journal(); len(j) != 0 {
				t.Fatalf("journal entries left: %+v", j)
			}
			if _, plan := e.plan(planner.PlanOptions{Mode: mode, Refresh: true}); plan.HasChanges() {
				t.Fatalf("not converged: %v", actions(plan))
			}
		})
	}
}

// TestIdentity_newObjectAvoidsHeldIDs: after a state mv, the moved record
// keeps its ID (slot 0 of its old address); a new instance at the old
// address must not take it.
func TestIdentity_newObjectAvoidsHeldIDs(t *testing.T) {
	lab := `
container "a" {
  rootfs = "r"
}
`
	e := byID(newEnv(t, map[string]string{"main.lab.hcl": lab}))
	e.apply(planner.PlanOptions{})
	rec, _ := e.store.Get("container.a")
	held := rec.ID
	rec.Addr = "container.b"
	if err := e.store.Put(rec); err != nil {
		t.Fatal(err)
	}
	e.store.Delete("container.a")
	e.write(map[string]string{"main.lab.hcl": lab + "container \"b\" {\n  rootfs = \"r\"\n}\n"})
	_, plan := e.plan(planner.PlanOptions{Refresh: true})
	for _, c := range plan.Changes {
		switch c.Addr.String() {
		case "container.a":
			if c.Action != planner.Create || c.ID == held {
				t.Fatalf("container.a: %s with ID %s; the moved container.b holds %s", c.Action, c.ID, held)
			}
		case "container.b":
			if c.Action != planner.NoOp {
				t.Fatalf("the moved container.b: %s, want no change", c.Action)
			}
		}
	}
	e.apply(planner.PlanOptions{})
	if keys := e.mem["container"].Keys(); len(keys) != 2 {
		t.Fatalf("objects %v, want two", keys)
	}
}

// TestIdentity_cutDestroyReplacesNothingHealthy: destroy journals every
// delete before any runs; killed then, its entries are open for objects
// that were never touched. The next apply leaves those alone.
func TestIdentity_cutDestroyReplacesNothingHealthy(t *testing.T) {
	e := byID(newEnv(t, map[string]string{"main.lab.hcl": twoNodes}))
	e.apply(planner.PlanOptions{})
	recs, _ := e.store.Resources()
	var ins []*state.Intent
	for _, r := range recs {
		ins = append(ins, &state.Intent{Addr: r.Addr, Action: "delete", Type: r.Type, Provider: r.Provider, ID: r.ID, Planned: r.Value})
	}
	if _, err := e.store.BeginMany(ins); err != nil {
		t.Fatal(err)
	}
	_, plan := e.plan(planner.PlanOptions{Refresh: true})
	if plan.HasChanges() {
		t.Fatalf("a destroy cut before it touched anything: the plan changes %v", actions(plan))
	}
}

// TestIdentity_stateOfAnOlderLabformIsRefused: records without an object
// ID, in a state that never recorded the lab's ID, were written by a
// labform that named host objects otherwise: planning them would build
// every object again beside the old ones.
func TestIdentity_stateOfAnOlderLabformIsRefused(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": cbdLab})
	e.apply(planner.PlanOptions{})
	rec, _ := e.store.Get("container.web")
	rec.ID = ""
	// A state of an older labform has no lab ID either: a new file.
	old := newEnv(t, map[string]string{"main.lab.hcl": cbdLab})
	if err := old.store.Put(rec); err != nil {
		t.Fatal(err)
	}
	_, diags := old.planner().Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "State from an older labform") {
		t.Fatalf("want the older state refused, got %v", diags)
	}
}
