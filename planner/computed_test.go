package planner_test

import (
	"context"
	"strings"
	"testing"

	"github.com/labform/labform/internal/memprovider"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// computing is an in-memory provider that plans computed attributes as
// the real provider does.
type computing struct {
	*memprovider.Provider
	real providers.ComputedPlanner
}

func (c computing) PlanComputed(r providers.PlanRequest) cty.Value { return c.real.PlanComputed(r) }

// newComputingEnv is newEnv with the real providers' PlanComputed.
func newComputingEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	return newEnvWith(t, files, func(real providers.Provider, m *memprovider.Provider) providers.Provider {
		if cp, ok := real.(providers.ComputedPlanner); ok {
			return computing{m, cp}
		}
		return m
	})
}

const restartLab = `
vm "r" {
  memory      = 64
  adapters    = 2
  mac_address = "52:54:00:aa:00:10"
}
vm "plain" {
  memory   = 64
  adapters = 3
}
container "c" {
  rootfs = "rootfs"
  state  = "running"
}
output "r_pid" {
  value = vm.r.pid
}
output "r_macs" {
  value = vm.r.mac_addresses
}
output "plain_macs" {
  value = vm.plain.mac_addresses
}
output "c_pid" {
  value = container.c.pid
}
`

func change(p *planner.Plan, a string) *planner.Change {
	for _, c := range p.Changes {
		if c.Addr.String() == a {
			return c
		}
	}
	return nil
}

func output(p *planner.Plan, name string) *planner.OutputChange {
	for _, o := range p.Outputs {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// TestPlan_computedOverRestart: a restart plans the pid, and the outputs
// that use it, as "(known after apply)" instead of today's pid; MAC
// addresses derived from a base (or from the lab and the address) stay
// known, in the planned value and in outputs. A container started again in
// place gets a new pid too, so its pid is unknown, not the 0 of a stopped
// container.
func TestPlan_computedOverRestart(t *testing.T) {
	e := newComputingEnv(t, map[string]string{"main.lab.hcl": restartLab})
	plan, res := e.apply(planner.PlanOptions{Refresh: true})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	// Known at create already.
	if got := change(plan, "vm.r").After.GetAttr("mac_addresses"); !got.IsWhollyKnown() || got.LengthInt() != 2 {
		t.Fatalf("mac_addresses planned at create: %#v", got)
	}
	v, _ := e.mem["qemu"].Get("vm.r")
	wantMACs := cty.ListVal([]cty.Value{cty.StringVal("52:54:00:aa:00:10"), cty.StringVal("52:54:00:aa:00:11")})
	if !v.GetAttr("mac_addresses").RawEquals(wantMACs) {
		t.Fatalf("applied mac_addresses %#v", v.GetAttr("mac_addresses"))
	}
	plainMACs := func() cty.Value { v, _ := e.mem["qemu"].Get("vm.plain"); return v.GetAttr("mac_addresses") }()

	// Restart both VMs (memory) and start the container, which was
	// stopped behind labform's back (runc reports pid 0 for it).
	c, _ := e.mem["container"].Get("container.c")
	m := c.AsValueMap()
	m["state"], m["pid"] = cty.StringVal("stopped"), cty.NumberIntVal(0)
	e.mem["container"].Set("container.c", cty.ObjectVal(m))
	e.write(map[string]string{"main.lab.hcl": strings.ReplaceAll(strings.ReplaceAll(restartLab, "memory      = 64", "memory      = 96"), "memory   = 64", "memory   = 96")})
	_, plan = e.plan(planner.PlanOptions{Refresh: true})
	if got := actions(plan); got["vm.r"] != "update/restart" || got["vm.plain"] != "update/restart" || got["container.c"] != "update/in-place" {
		t.Fatalf("actions: %v", got)
	}
	r := change(plan, "vm.r").After
	if r.GetAttr("pid").IsKnown() {
		t.Errorf("restarted VM's planned pid is known: %#v", r.GetAttr("pid"))
	}
	if !r.GetAttr("mac_addresses").RawEquals(wantMACs) {
		t.Errorf("restarted VM's planned mac_addresses %#v, want %#v", r.GetAttr("mac_addresses"), wantMACs)
	}
	if got := change(plan, "vm.plain").After.GetAttr("mac_addresses"); !got.RawEquals(plainMACs) {
		t.Errorf("restarted VM (no base MAC): planned mac_addresses %#v, want %#v", got, plainMACs)
	}
	if got := change(plan, "container.c").After.GetAttr("pid"); got.IsKnown() {
		t.Errorf("container started again in place: planned pid %#v, want unknown", got)
	}
	for name, known := range map[string]bool{"r_pid": false, "c_pid": false, "r_macs": true, "plain_macs": true} {
		o := output(plan, name)
		if o == nil {
			t.Fatalf("no output %s", name)
		}
		if o.After.IsWhollyKnown() != known {
			t.Errorf("output %s: planned %#v, known should be %v", name, o.After, known)
		}
	}
	text := render.Plan(plan, false)
	for _, s := range []string{"~ r_pid", "(known after apply)"} {
		if !strings.Contains(text, s) {
			t.Errorf("rendered plan lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "~ mac_addresses") || strings.Contains(text, "~ qmp_socket") {
		t.Errorf("derived attributes shown as changing:\n%s", text)
	}
	t.Log(text)
}

// deadVMs is an in-memory provider whose refresh says that some VMs are
// in a state only a restart leaves, as the QEMU provider says of a QMP
// status internal-error or guest-panicked.
type deadVMs struct {
	*memprovider.Provider
	dead map[string]string // address -> live state
}

func (d deadVMs) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	resp, err := d.Provider.Read(ctx, req)
	if st, ok := d.dead[req.Addr]; ok && err == nil && !resp.State.IsNull() {
		m := resp.State.AsValueMap()
		m["state"] = cty.StringVal(st)
		resp.State, resp.Restart = cty.ObjectVal(m), "QMP status "+st+": only a reset leaves it"
	}
	return resp, err
}

func (d deadVMs) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	resps, errs := make([]providers.ReadResponse, len(reqs)), make([]error, len(reqs))
	for i, r := range reqs {
		resps[i], errs[i] = d.Read(ctx, r)
	}
	return resps, errs
}

// TestPlan_deadVMIsRestarted: refresh's "only a restart repairs this" turns
// the VM's in-place change into a restart whose reason names the state,
// except for a VM that is to be stopped anyway.
func TestPlan_deadVMIsRestarted(t *testing.T) {
	const lab = `
vm "a" {
  memory = 64
}
vm "b" {
  memory = 64
}
vm "c" {
  memory = 64
  state  = "STATE"
}
`
	dead := map[string]string{}
	e := newEnvWith(t, map[string]string{"main.lab.hcl": strings.Replace(lab, "STATE", "running", 1)},
		func(real providers.Provider, m *memprovider.Provider) providers.Provider {
			if real.Name() == "qemu" {
				return deadVMs{m, dead}
			}
			return m
		})
	e.apply(planner.PlanOptions{Refresh: true})

	dead["vm.a"], dead["vm.c"] = "internal-error", "guest-panicked"
	_, plan := e.plan(planner.PlanOptions{Refresh: true})
	if got := actions(plan); got["vm.a"] != "update/restart" || got["vm.b"] != "no-op/none" || got["vm.c"] != "update/restart" {
		t.Fatalf("actions %v", got)
	}
	text := render.Plan(plan, false)
	for _, s := range []string{"# vm.a will be restarted", "QMP status internal-error", "QMP status guest-panicked", `"internal-error" -> "running" # forces restart`} {
		if !strings.Contains(text, s) {
			t.Errorf("the plan lacks %q:\n%s", s, text)
		}
	}
	if change(plan, "vm.a").After.GetAttr("pid").IsKnown() {
		t.Error("the restarted VM's pid is planned as known")
	}

	// To be stopped anyway: stopping it in place is enough.
	e.write(map[string]string{"main.lab.hcl": strings.Replace(lab, "STATE", "stopped", 1)})
	_, plan = e.plan(planner.PlanOptions{Refresh: true})
	if got := actions(plan)["vm.c"]; got != "update/in-place" {
		t.Errorf("a dead VM to be stopped: %s, want update/in-place", got)
	}
}
