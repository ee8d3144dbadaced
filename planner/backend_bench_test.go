package planner_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/etcdtest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/state"
	etcdstate "github.com/labform/labform/state/etcd"
)

// backendOpener opens the benchmark lab's state in each backend: the
// state file, and etcd (a one-member cluster on 127.0.0.1, through the
// client as a real run goes).
func backendOpener(b *testing.B, kind string, e *env) func() (state.Backend, error) {
	e.store.Close()
	if kind == "bbolt" {
		return func() (state.Backend, error) {
			return state.Open(filepath.Join(e.dir, ".labform", "state.db"), state.Options{})
		}
	}
	cl := etcdtest.Start(b, 1)
	cfg := etcdstate.Config{Endpoints: cl.Endpoints, Prefix: "labform/bench"}
	return func() (state.Backend, error) { return etcdstate.Open(cfg, etcdstate.Options{LocalDir: e.dir}) }
}

// BenchmarkPlanNoChange1k is the no-change plan (with refresh) of 1,000
// instances, as a run makes it: open the state (taking its lock), plan,
// close. The etcd backend must stay within 1.5x of the state file.
func BenchmarkPlanNoChange1k(b *testing.B) {
	outer := b // the cluster lives as long as the whole benchmark
	for _, kind := range []string{"bbolt", "etcd"} {
		// b.Run calls its function again for a larger b.N: the lab is
		// made and applied once.
		var e *env
		var open func() (state.Backend, error)
		var lab *config.Lab
		b.Run(kind, func(b *testing.B) {
			applied := e != nil
			if !applied {
				e = newEnv(&testing.T{}, map[string]string{"main.lab.hcl": "lab {\n  name = \"bench-" + kind + "\"\n}\n" + genLab(0.1)})
				open = backendOpener(outer, kind, e)
				var diags hcl.Diagnostics
				if lab, diags = config.Load(e.dir, e.reg); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
			plan := func(apply bool) *planner.Plan {
				st, err := open()
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				p := &planner.Planner{Registry: e.reg, Store: st, Lab: lab, Inputs: config.NewInputs(), Parallelism: 10}
				pl, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true})
				if diags.HasErrors() {
					b.Fatal(diags)
				}
				if apply {
					res, diags := p.Apply(context.Background(), pl, planner.ApplyOptions{})
					if diags.HasErrors() || res.Err() != nil || res.Added != 1000 {
						b.Fatalf("apply: %v %v", diags, res.Err())
					}
					m, _ := st.Meta()
					b.ReportMetric(float64(m.Serial), "apply-state-txns")
				}
				return pl
			}
			if !applied {
				plan(true)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if pl := plan(false); pl.HasChanges() {
					b.Fatal("a no-change plan has changes")
				}
			}
		})
	}
}
