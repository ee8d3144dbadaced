package systest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/labreg"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
)

// Lab is a lab directory of a test's own, its state and a registry of
// the providers under test, driven through the real planner.
type Lab struct {
	T    testing.TB
	Dir  string
	Name string // lab { name }: unique per test process
	// AllowHostPaths writes allow_host_paths = true in the lab block,
	// for tests that use the host's files (a kernel from its cache).
	AllowHostPaths bool
	Reg            *providers.Registry
	Store          *state.Store
}

// NewLab makes the directory and the state; the state closes when the
// test ends, after the cleanups the caller registers later.
func NewLab(t testing.TB, name string, provs ...providers.Provider) *Lab {
	t.Helper()
	l := &Lab{T: t, Dir: t.TempDir(), Name: name, Reg: providers.NewRegistry()}
	for _, p := range provs {
		l.Reg.Register(p)
	}
	s, err := state.Open(filepath.Join(l.Dir, ".labform", "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Store = s
	t.Cleanup(func() {
		// Last of the cleanups: a lab the test left applied (or a
		// failed create) must not keep its name on the host.
		labreg.Release(l.Name, l.LabID())
		s.Close()
	})
	return l
}

// Write makes src, with a lab block naming the lab, the lab's one file.
func (l *Lab) Write(src string) {
	l.T.Helper()
	allow := ""
	if l.AllowHostPaths {
		allow = "  allow_host_paths = true\n"
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(fmt.Sprintf("lab {\n  name = %q\n%s}\n%s", l.Name, allow, src)), 0o644); err != nil {
		l.T.Fatal(err)
	}
}

// Plan refreshes and plans in the given mode, failing the test on errors.
func (l *Lab) Plan(mode planner.Mode) (*planner.Planner, *planner.Plan) {
	l.T.Helper()
	p, plan, err := l.plan(mode)
	if err != nil {
		l.T.Fatal(err)
	}
	return p, plan
}

func (l *Lab) plan(mode planner.Mode, replace ...addr.Instance) (*planner.Planner, *planner.Plan, error) {
	lab, diags := config.Load(l.Dir, l.Reg)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	p := &planner.Planner{Registry: l.Reg, Store: l.Store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 4}
	plan, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: mode, Refresh: true, Replace: replace})
	if diags.HasErrors() {
		return nil, nil, diags
	}
	return p, plan, nil
}

// Apply plans and applies, failing the test on any error.
func (l *Lab) Apply(mode planner.Mode) *planner.Plan {
	l.T.Helper()
	return l.ApplyReplacing(mode)
}

// ApplyReplacing plans with -replace of the given instances and applies,
// failing the test on any error.
func (l *Lab) ApplyReplacing(mode planner.Mode, replace ...string) *planner.Plan {
	l.T.Helper()
	var rs []addr.Instance
	for _, a := range replace {
		ia, err := addr.ParseInstance(a)
		if err != nil {
			l.T.Fatal(err)
		}
		rs = append(rs, ia)
	}
	p, plan, err := l.plan(mode, rs...)
	if err != nil {
		l.T.Fatal(err)
	}
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if diags.HasErrors() {
		l.T.Fatal(diags.Error())
	}
	if err := res.Err(); err != nil {
		l.T.Fatal(err)
	}
	return plan
}

// DestroyQuietly destroys the lab, logging instead of failing: it runs in
// cleanups, which must go on to remove by hand whatever is left (a Fatal
// there would skip the rest).
func (l *Lab) DestroyQuietly() {
	if _, err := os.Stat(filepath.Join(l.Dir, "main.lab.hcl")); err != nil {
		return // never written: nothing was applied
	}
	p, plan, err := l.plan(planner.DestroyMode)
	if err != nil {
		l.T.Logf("cleanup: %v", err)
		return
	}
	if res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{}); res != nil && res.Err() != nil {
		l.T.Logf("cleanup: %v", res.Err())
	}
}

// LabID is the lab's ID on the host, as the planner derives it.
func (l *Lab) LabID() string {
	if m, err := l.Store.Meta(); err == nil && m.LabID != "" {
		return m.LabID
	}
	dir := l.Dir
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return providers.LabID(dir)
}

// ID is the object ID of the instance at addr: as recorded in state, or
// slot 0's.
func (l *Lab) ID(addr string) string {
	if rec, err := l.Store.Get(addr); err == nil && rec != nil && rec.ID != "" {
		return rec.ID
	}
	return providers.ObjectID(l.LabID(), addr, 0)
}
