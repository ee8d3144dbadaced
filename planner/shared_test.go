package planner_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/state"
)

// shared is a state that several checkouts of a lab share (as etcd is).
type shared struct{ *state.Store }

func (shared) Shared() bool { return true }

// TestIdentity_sharedState: a second directory with the first one's state
// is a copy, refused, when the state is the lab directory's own file; when
// the state is shared, it is another checkout of the same lab: the lab's
// ID comes from the state, the plan has no change, and nothing says the
// lab moved.
func TestIdentity_sharedState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shared bool
		want   string // the error's summary, "" for none
	}{
		{"state file", false, "Copy of a lab"},
		{"shared state", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := byID(newEnv(t, map[string]string{"main.lab.hcl": "lab {\n  name = \"sh\"\n}\n" + cbdLab}))
			e.apply(planner.PlanOptions{})
			id, _ := e.store.Meta()
			// The second checkout: the same files elsewhere, the same state.
			other := t.TempDir()
			os.WriteFile(filepath.Join(other, "main.lab.hcl"), []byte("lab {\n  name = \"sh\"\n}\n"+cbdLab), 0o644)
			os.MkdirAll(filepath.Join(other, ".labform"), 0o700)
			lab, diags := config.Load(other, e.reg)
			mustOK(t, diags)
			var st state.Backend = e.store
			if tc.shared {
				st = shared{e.store}
			} else {
				// A copy of the file: the original stays in place.
				b, _ := os.ReadFile(filepath.Join(e.dir, ".labform", "state.db"))
				os.WriteFile(filepath.Join(other, ".labform", "state.db"), b, 0o600)
			}
			p := &planner.Planner{Registry: e.reg, Store: st, Lab: lab, Inputs: config.NewInputs(), Parallelism: 4}
			plan, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true})
			if tc.want != "" {
				if !hasSummary(diags, tc.want) {
					t.Fatalf("want %q, got %v", tc.want, diags)
				}
				return
			}
			mustOK(t, diags)
			for _, d := range diags {
				t.Errorf("a shared state's second checkout is told: %s", d.Summary)
			}
			if plan.HasChanges() {
				t.Fatal("the second checkout plans changes")
			}
			res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
			mustOK(t, diags)
			if res.Err() != nil {
				t.Fatal(res.Err())
			}
			if m, _ := st.Meta(); m.LabID != id.LabID || m.LabDir != id.LabDir {
				t.Errorf("the second checkout's apply changed the lab's identity: %+v, was %+v", m, id)
			}
		})
	}
}

func hasSummary(diags hcl.Diagnostics, s string) bool {
	for _, d := range diags {
		if d.Summary == s {
			return true
		}
	}
	return false
}
