package planner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

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
// instances as a run makes it, on each backend: open the state (taking
// its lock), plan, close. The two alternate within every iteration, so
// that the load of a shared machine falls on both alike; "etcd/bbolt" is
// the ratio of their total times (the target: at most 1.5).
// benchRuns names each run's labs apart: the testing package runs a
// benchmark function more than once, and a lab's name stays claimed.
var benchRuns atomic.Int64

func BenchmarkPlanNoChange1k(b *testing.B) {
	type side struct {
		e     *env
		open  func() (state.Backend, error)
		lab   *config.Lab
		total time.Duration
		// applyTxns is the serial after the apply of the 1,000 instances:
		// the transactions it took (grouped writes).
		applyTxns uint64
	}
	sides := map[string]*side{}
	kinds := []string{"bbolt", "etcd"}
	plan := func(s *side, apply bool) *planner.Plan {
		st, err := s.open()
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		p := &planner.Planner{Registry: s.e.reg, Store: st, Lab: s.lab, Inputs: config.NewInputs(), Parallelism: 10}
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
			s.applyTxns = m.Serial
		}
		return pl
	}
	for _, kind := range kinds {
		s := &side{e: newEnv(b, map[string]string{"main.lab.hcl": fmt.Sprintf("lab {\n  name = \"bench-%s-%d\"\n}\n", kind, benchRuns.Add(1)) + genLab(0.1)})}
		s.open = backendOpener(b, kind, s.e)
		var diags hcl.Diagnostics
		if s.lab, diags = config.Load(s.e.dir, s.e.reg); diags.HasErrors() {
			b.Fatal(diags)
		}
		plan(s, true)
		sides[kind] = s
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, kind := range kinds {
			start := time.Now()
			if pl := plan(sides[kind], false); pl.HasChanges() {
				b.Fatalf("%s: a no-change plan has changes", kind)
			}
			sides[kind].total += time.Since(start)
		}
	}
	for _, kind := range kinds {
		b.ReportMetric(float64(sides[kind].total.Milliseconds())/float64(b.N), "ms-"+kind)
		b.ReportMetric(float64(sides[kind].applyTxns), "apply-txns-"+kind)
	}
	b.ReportMetric(float64(sides["etcd"].total)/float64(sides["bbolt"].total), "etcd/bbolt")
}
