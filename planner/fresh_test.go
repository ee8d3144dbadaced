package planner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/labreg"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

// snapshot is what an apply may change: the state file, the providers'
// objects and the host's record of labs.
type snapshot struct {
	state   []byte
	objects map[string]map[string]cty.Value
	labreg  map[string][]byte
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	path, err := e.store.Backup(e.t.TempDir(), 1)
	if err != nil {
		e.t.Fatal(err)
	}
	s := snapshot{objects: map[string]map[string]cty.Value{}, labreg: map[string][]byte{}}
	if s.state, err = os.ReadFile(path); err != nil {
		e.t.Fatal(err)
	}
	for name, m := range e.mem {
		s.objects[name] = map[string]cty.Value{}
		for _, k := range m.Keys() {
			s.objects[name][k], _ = m.Get(k)
		}
	}
	for _, name := range e.hostLabs() {
		if b, err := os.ReadFile(filepath.Join(labreg.Dir, name+".json")); err == nil {
			s.labreg[name] = b
		}
	}
	return s
}

// hostLabs are the names this lab's directory holds on the host.
func (e *env) hostLabs() []string {
	var names []string
	files, _ := os.ReadDir(labreg.Dir)
	for _, f := range files {
		name, ok := strings.CutSuffix(f.Name(), ".json")
		if le, _ := labreg.Get(name); ok && le != nil && le.Dir == e.dir {
			names = append(names, name)
		}
	}
	return names
}

// restore puts everything back as s took it; e.store is a new store on
// the restored file.
func (e *env) restore(s snapshot) {
	e.t.Helper()
	path := e.store.Path()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, s.state, 0o600); err != nil {
		e.t.Fatal(err)
	}
	st, err := state.Open(path, state.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	e.t.Cleanup(func() { st.Close() })
	for name, m := range e.mem {
		for _, k := range m.Keys() {
			m.Remove(k)
		}
		for k, v := range s.objects[name] {
			m.Set(k, v)
		}
	}
	for _, name := range e.hostLabs() {
		os.Remove(filepath.Join(labreg.Dir, name+".json"))
	}
	for name, b := range s.labreg {
		if err := os.WriteFile(filepath.Join(labreg.Dir, name+".json"), b, 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
}

// outcome describes what an apply left, in text: the records, the open
// journal entries, the outputs, the lab's record in state and on the
// host, the providers' objects and what Apply reported.
func (e *env) outcome(res *planner.ApplyResult) string {
	e.t.Helper()
	var b strings.Builder
	recs, err := e.store.Resources()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range slices.Sorted(maps.Keys(recs)) {
		r := recs[a]
		fmt.Fprintf(&b, "record %s %s %s id=%s tainted=%q deps=%v sensitive=%v private=%q value=%x\n",
			a, r.Provider, r.Type, r.ID, r.Tainted, r.Deps, r.Sensitive, r.Private, r.Value)
	}
	journal, err := e.store.Journal()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, in := range journal {
		fmt.Fprintf(&b, "journal %d %s %s id=%s\n", in.Seq, in.Action, in.Addr, in.ID)
	}
	outs, err := e.store.Outputs()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, n := range slices.Sorted(maps.Keys(outs)) {
		fmt.Fprintf(&b, "output %s = %s\n", n, outs[n].Value)
	}
	m, err := e.store.Meta()
	if err != nil {
		e.t.Fatal(err)
	}
	// Not the serial: results are written in batches, as many as the
	// actions' timing makes.
	fmt.Fprintf(&b, "lab id=%s name=%s dir=%s\n", m.LabID, m.LabName, m.LabDir)
	for _, name := range e.hostLabs() {
		le, _ := labreg.Get(name)
		fmt.Fprintf(&b, "host lab %s id=%s\n", name, le.ID) // its time is the claim's own
	}
	for _, name := range slices.Sorted(maps.Keys(e.mem)) {
		for _, k := range e.mem[name].Keys() {
			v, _ := e.mem[name].Get(k)
			fmt.Fprintf(&b, "object %s %s %s\n", name, k, v.GoString())
		}
	}
	fmt.Fprintf(&b, "result +%d ~%d -%d stopped=%v skipped=%v not-started=%v\n", res.Added, res.Changed, res.Destroyed, res.Stopped, res.Skipped, res.NotStarted)
	for _, id := range slices.Sorted(maps.Keys(res.Errors)) {
		fmt.Fprintf(&b, "error %s: %v\n", id, res.Errors[id])
	}
	return b.String()
}

// planCopy is a copy of everything a plan holds but its configuration,
// made field by field, down to the slices' elements: compared with
// reflect.DeepEqual, it shows any change Apply makes to a plan.
func planCopy(p *planner.Plan) planner.Plan {
	cp := *p
	cp.Desired = nil
	changes := func(cs []*planner.Change) []*planner.Change {
		if cs == nil {
			return nil
		}
		out := make([]*planner.Change, len(cs))
		for i, c := range cs {
			c2 := *c
			c2.Deps, c2.PriorDeps = slices.Clone(c.Deps), slices.Clone(c.PriorDeps)
			c2.Private = bytes.Clone(c.Private)
			c2.ForcedBy = slices.Clone(c.ForcedBy)
			for j := range c2.ForcedBy {
				c2.ForcedBy[j].Path = slices.Clone(c2.ForcedBy[j].Path)
			}
			c2.BeforeSensitive, c2.AfterSensitive = paths(c.BeforeSensitive), paths(c.AfterSensitive)
			if c.MovedFrom != nil {
				from := *c.MovedFrom
				c2.MovedFrom = &from
			}
			out[i] = &c2
		}
		return out
	}
	cp.Changes, cp.Imports, cp.Drift = changes(p.Changes), changes(p.Imports), changes(p.Drift)
	cp.Moves = slices.Clone(p.Moves)
	if p.Outputs != nil {
		cp.Outputs = make([]*planner.OutputChange, len(p.Outputs))
		for i, o := range p.Outputs {
			o2 := *o
			cp.Outputs[i] = &o2
		}
	}
	cp.SettledIntents = slices.Clone(p.SettledIntents)
	return cp
}

func paths(ps []cty.Path) []cty.Path {
	if ps == nil {
		return nil
	}
	out := make([]cty.Path, len(ps))
	for i, p := range ps {
		out[i] = slices.Clone(p)
	}
	return out
}

// desiredValues are the configuration's instance values, as text.
func desiredValues(d *config.Desired) map[string]string {
	out := map[string]string{}
	if d == nil {
		return out
	}
	for a, inst := range d.Instances {
		out[a.String()] = inst.Value.GoString()
	}
	return out
}

// TestApply_aFreshPlannerAppliesAnotherPlannersPlan: a plan applied by the
// Planner that made it, and the same plan applied (from the same state,
// objects and host) by a Planner that never planned, leave the same
// records, journal, outputs, lab records and objects, and report the same;
// neither Apply changes the plan. Each case needs something Apply used to
// take from the Plan call rather than from the plan: the configuration,
// the IDs of moved, imported and adopted objects, the journal entries
// found settled, the name a renamed lab's objects live under.
func TestApply_aFreshPlannerAppliesAnotherPlannersPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup brings e to where the plan under test is made.
		setup func(t *testing.T, e *env)
		mode  planner.Mode
	}{
		{
			name: "arguments known after apply, links, outputs",
			setup: func(t *testing.T, e *env) {
				e.write(map[string]string{"main.lab.hcl": twoNodes, "b.lab.hcl": unknownAtPlan})
			},
		},
		{
			name: "create_before_destroy cut short",
			setup: func(t *testing.T, e *env) {
				byID(e)
				e.write(map[string]string{"main.lab.hcl": cbdLab})
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
				if _, res := e.apply(planner.PlanOptions{}); res.Err() == nil {
					t.Fatal("want the create to fail")
				}
				mem.Fail = nil
				j, _ := e.store.Journal()
				for _, in := range j {
					if in.Action == state.JournalCreate {
						v, _ := mem.Get(old)
						mem.Set(in.ID, v) // what the cut create made
					}
				}
				e.write(map[string]string{"main.lab.hcl": cbdLab})
			},
		},
		{
			name: "destroy of a renamed lab",
			mode: planner.DestroyMode,
			setup: func(t *testing.T, e *env) {
				e.write(map[string]string{"main.lab.hcl": "lab {\n  name = \"first\"\n}\n" + twoNodes})
				e.apply(planner.PlanOptions{})
				e.write(map[string]string{"main.lab.hcl": "lab {\n  name = \"second\"\n}\n" + twoNodes})
			},
		},
		{
			name: "moved block and an update",
			setup: func(t *testing.T, e *env) {
				byID(e)
				e.write(map[string]string{"main.lab.hcl": `
container "a" {
  rootfs = "rootfs"
}
output "pid" {
  value = container.a.pid
}
`})
				e.apply(planner.PlanOptions{})
				e.write(map[string]string{"main.lab.hcl": `
moved {
  from = container.a
  to   = container.b
}
container "b" {
  rootfs = "rootfs"
  env    = { A = "1" }
}
output "pid" {
  value = container.b.pid
}
`})
			},
		},
		{
			name: "import block",
			setup: func(t *testing.T, e *env) {
				e.write(map[string]string{"main.lab.hcl": `
import {
  to = container.web
  id = "outside-web"
}
container "web" {
  rootfs = "rootfs"
}
container "other" {
  rootfs  = "rootfs"
  command = ["sleep", tostring(container.web.pid)]
}
`})
				d, err := e.planner().Evaluate()
				if err != nil {
					t.Fatal(err)
				}
				web, _ := addr.ParseInstance("container.web")
				e.mem["container"].MakeOutside("container", "outside-web", d.Instances[web].Value)
			},
		},
		{
			name: "state lost under a running lab",
			setup: func(t *testing.T, e *env) {
				byID(e)
				e.write(map[string]string{"main.lab.hcl": twoNodes})
				e.apply(planner.PlanOptions{})
				path := e.store.Path()
				e.store.Close()
				os.Remove(path)
				st, err := state.Open(path, state.Options{})
				if err != nil {
					t.Fatal(err)
				}
				e.store = st
				t.Cleanup(func() { st.Close() })
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			tc.setup(t, e)
			mode := tc.mode
			if mode == "" {
				mode = planner.NormalMode
			}
			before := e.snapshot()
			p, plan := e.plan(planner.PlanOptions{Mode: mode, Refresh: true})
			if !plan.HasChanges() && len(plan.Drift) == 0 {
				t.Fatal("the plan has nothing to apply: the case tests nothing")
			}
			saved := planCopy(plan)
			desired, values := plan.Desired, desiredValues(plan.Desired)
			var planFile bytes.Buffer
			write := func(w *bytes.Buffer) {
				f := filepath.Join(t.TempDir(), "plan")
				if err := planner.WritePlanFile(f, plan, e.dir, nil, e.reg); err != nil {
					t.Fatal(err)
				}
				b, _ := os.ReadFile(f)
				w.Write(b)
			}
			write(&planFile)
			unchanged := func(who string) {
				t.Helper()
				if got := planCopy(plan); !reflect.DeepEqual(got, saved) {
					t.Errorf("the apply by %s changed the plan", who)
				}
				var after bytes.Buffer
				write(&after)
				if !bytes.Equal(after.Bytes(), planFile.Bytes()) {
					t.Errorf("the apply by %s changed the plan as a plan file writes it:\n%s\nwas\n%s", who, after.Bytes(), planFile.Bytes())
				}
				if plan.Desired != desired || !reflect.DeepEqual(desiredValues(plan.Desired), values) {
					t.Errorf("the apply by %s changed the plan's configuration", who)
				}
			}

			res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
			mustOK(t, diags)
			unchanged("the planner that made it")
			same := e.outcome(res)

			e.restore(before)
			fresh := e.planner() // on the restored store; it never planned
			res, diags = fresh.Apply(context.Background(), plan, planner.ApplyOptions{})
			mustOK(t, diags)
			unchanged("a fresh planner")
			if got := e.outcome(res); got != same {
				t.Errorf("a fresh planner applied the plan otherwise; only after the fresh one's apply:\n%s\nonly after the apply by the planner that made it:\n%s",
					onlyIn(got, same), onlyIn(same, got))
			}
			// The same plan written to a file and read back, as `labform
			// apply FILE` does in another process.
			file := filepath.Join(t.TempDir(), "plan")
			if err := planner.WritePlanFile(file, plan, e.dir, nil, e.reg); err != nil {
				t.Fatal(err)
			}
			e.restore(before)
			read, err := planner.ReadPlanFile(file, e.reg)
			if err != nil {
				t.Fatal(err)
			}
			other := e.planner()
			if read.Plan.Desired, err = other.Evaluate(); err != nil {
				t.Fatal(err)
			}
			res, diags = other.Apply(context.Background(), read.Plan, planner.ApplyOptions{})
			mustOK(t, diags)
			if got := e.outcome(res); got != same {
				t.Errorf("the plan read back from its file was applied otherwise; only after that apply:\n%s\nonly after the apply by the planner that made it:\n%s",
					onlyIn(got, same), onlyIn(same, got))
			}
			// Every apply did what the plan said: the next plan has nothing to do.
			if mode == planner.NormalMode {
				if _, next := e.plan(planner.PlanOptions{Refresh: true}); next.HasChanges() {
					t.Errorf("not converged after the fresh planner's apply: %v", actions(next))
				}
			}
		})
	}
}

// onlyIn lists the lines of a that b does not have.
func onlyIn(a, b string) string {
	in := map[string]bool{}
	for _, l := range strings.Split(b, "\n") {
		in[l] = true
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !in[l] {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestApply_refusesAPlanForAnotherLab: a plan's object IDs derive from the
// lab's ID, and its host objects live under the lab's name: a plan made
// under another identity (another lab took the name or the directory's ID
// on this host since) is refused before anything is done.
func TestApply_refusesAPlanForAnotherLab(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*planner.Plan)
	}{
		{"another lab ID", func(p *planner.Plan) { p.LabID = "0123456789ab" }},
		{"another name", func(p *planner.Plan) { p.LabName = "elsewhere" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]string{"main.lab.hcl": twoNodes})
			_, plan := e.plan(planner.PlanOptions{Refresh: true})
			if plan.LabID == "" || plan.LabName == "" {
				t.Fatalf("the plan does not record the lab's identity: %q %q", plan.LabID, plan.LabName)
			}
			other := *plan
			tc.change(&other)
			_, diags := e.planner().Apply(context.Background(), &other, planner.ApplyOptions{})
			if !hasSummary(diags, "Saved plan is for another lab") {
				t.Fatalf("want the plan refused, got %v", diags)
			}
			if recs, _ := e.store.Resources(); len(recs) != 0 || e.mem["container"].Len() != 0 {
				t.Errorf("the refused apply did something: %d records, %d containers", len(recs), e.mem["container"].Len())
			}
		})
	}
}
