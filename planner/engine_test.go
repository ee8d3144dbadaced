package planner_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/memprovider"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/all"
	"github.com/labform/labform/state"
)

// env is a lab directory, a state and in-memory providers with the real
// providers' schemas.
type env struct {
	t     testing.TB
	dir   string
	reg   *providers.Registry
	mem   map[string]*memprovider.Provider
	store *state.Store
}

func newEnv(t testing.TB, files map[string]string) *env {
	t.Helper()
	return newEnvWith(t, files, nil)
}

// newEnvWith is newEnv with each in-memory provider registered as wrap
// makes it (wrap may be nil): a test adds behaviour of the real provider.
func newEnvWith(t testing.TB, files map[string]string, wrap func(real providers.Provider, m *memprovider.Provider) providers.Provider) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), reg: providers.NewRegistry(), mem: map[string]*memprovider.Provider{}}
	for _, p := range all.Providers() {
		m := memprovider.Wrap(p)
		e.mem[p.Name()] = m
		if wrap != nil {
			e.reg.Register(wrap(p, m))
		} else {
			e.reg.Register(m)
		}
	}
	e.write(files)
	s, err := state.Open(filepath.Join(e.dir, ".labform", "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.store = s
	t.Cleanup(func() { s.Close() })
	return e
}

func (e *env) write(files map[string]string) {
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(e.dir, name), []byte(src), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) planner() *planner.Planner {
	e.t.Helper()
	lab, diags := config.Load(e.dir, e.reg)
	mustOK(e.t, diags)
	return &planner.Planner{Registry: e.reg, Store: e.store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 4}
}

func (e *env) plan(opts planner.PlanOptions) (*planner.Planner, *planner.Plan) {
	e.t.Helper()
	p := e.planner()
	if opts.Mode == "" {
		opts.Mode = planner.NormalMode
	}
	plan, diags := p.Plan(context.Background(), opts)
	mustOK(e.t, diags)
	return p, plan
}

func (e *env) apply(opts planner.PlanOptions) (*planner.Plan, *planner.ApplyResult) {
	e.t.Helper()
	p, plan := e.plan(opts)
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	mustOK(e.t, diags)
	return plan, res
}

func mustOK(t testing.TB, diags hcl.Diagnostics) {
	t.Helper()
	if diags.HasErrors() {
		t.Fatalf("unexpected errors: %s", diags.Error())
	}
}

func actions(p *planner.Plan) map[string]string {
	m := map[string]string{}
	for _, c := range p.Changes {
		m[c.Addr.String()] = string(c.Action) + "/" + c.Cost.String()
	}
	return m
}

const twoNodes = `
variable "n" {
  type    = number
  default = 2
}
vm "spine" {
  memory   = 512
  adapters = 4
}
container "host" {
  count  = var.n
  rootfs = "rootfs"
  ports  = 2
  resources {
    memory = "64MiB"
  }
}
link "wire" {
  count     = var.n
  endpoints = [vm.spine.port[count.index], container.host[count.index].port[1]]
}
output "pids" {
  value = container.host[*].pid
}
`

func TestEngine_lifecycle(t *testing.T) {
	e := newEnv(t, map[string]string{"main.lab.hcl": twoNodes})
	plan, res := e.apply(planner.PlanOptions{Refresh: true})
	if add, chg, del := plan.Counts(); add != 5 || chg != 0 || del != 0 {
		t.Fatalf("first plan: %d/%d/%d, want 5 to add", add, chg, del)
	}
	if err := res.Err(); err != nil || res.Added != 5 {
		t.Fatalf("apply: added %d, err %v", res.Added, err)
	}
	if n := e.mem["container"].Len() + e.mem["qemu"].Len() + e.mem["link"].Len(); n != 5 {
		t.Fatalf("%d objects in the lab, want 5", n)
	}
	outs, _ := e.store.Outputs()
	if o, ok := outs["pids"]; !ok || !regexp.MustCompile(`^\[[1-9][0-9]{3},[1-9][0-9]{3}\]$`).Match(o.Value) {
		t.Fatalf("output pids not saved from the applied values: %+v", outs)
	}

	// No change.
	_, plan = e.plan(planner.PlanOptions{Refresh: true})
	if plan.HasChanges() {
		t.Fatalf("second plan should be empty:\n%s", render.Plan(plan, false))
	}

	// In place, restart, replace: one of each.
	e.write(map[string]string{"main.lab.hcl": strings.NewReplacer(
		`memory = "64MiB"`, `memory = "128MiB"`,
		"memory   = 512", "memory   = 1024",
	).Replace(twoNodes) + "\n"})
	_, plan = e.plan(planner.PlanOptions{Refresh: true})
	got := actions(plan)
	want := map[string]string{
		"container.host[0]": "update/in-place", "container.host[1]": "update/in-place",
		// The links join the restarted VM's ports: applied again in place.
		"vm.spine": "update/restart", "link.wire[0]": "update/in-place", "link.wire[1]": "update/in-place",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %s, want %s", k, got[k], v)
		}
	}
	text := render.Plan(plan, false)
	for _, s := range []string{"# vm.spine will be restarted", "# forces restart", `~ memory = "64MiB" -> "128MiB"`, "Plan: 0 to add, 5 to change, 0 to destroy.", "applied again: vm.spine is restarted"} {
		if !strings.Contains(text, s) {
			t.Errorf("rendered plan lacks %q:\n%s", s, text)
		}
	}

	// Drift: a container vanished outside labform.
	e.mem["container"].Remove("container.host[1]")
	_, plan = e.plan(planner.PlanOptions{Refresh: true})
	if len(plan.Drift) != 1 || actions(plan)["container.host[1]"] != "create/none" {
		t.Fatalf("drift: %v / %v", plan.Drift, actions(plan))
	}

	// Shrink: count 2 -> 1 destroys link.wire[1]; container.host[1] is
	// gone (the drift above), but what it may have left on the host (its
	// namespace, its files) is removed too, saying so.
	e.write(map[string]string{"main.lab.hcl": strings.Replace(twoNodes, "default = 2", "default = 1", 1)})
	plan, res = e.apply(planner.PlanOptions{Refresh: true})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if add, _, del := plan.Counts(); add != 0 || del != 2 || res.Destroyed != 2 {
		t.Fatalf("shrinking: plan adds %d and destroys %d, apply destroyed %d; want 0, 2, 2", add, del, res.Destroyed)
	}
	if text := render.Plan(plan, false); !strings.Contains(text, "deleted outside labform: removing what it left") {
		t.Errorf("the removal of what a deleted object left does not say why:\n%s", text)
	}
	if _, ok := e.mem["link"].Get("link.wire[1]"); ok {
		t.Fatal("link.wire[1] should be gone")
	}

	// Destroy.
	_, res = e.apply(planner.PlanOptions{Mode: planner.DestroyMode, Refresh: true})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	recs, _ := e.store.Resources()
	if n := e.mem["container"].Len() + e.mem["qemu"].Len() + e.mem["link"].Len(); n != 0 || len(recs) != 0 {
		t.Fatalf("after destroy: %d objects, %d records", n, len(recs))
	}
}
