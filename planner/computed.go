package planner

import (
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// planComputed lets each change's provider say what it knows of the
// computed attributes of the planned value (providers.ComputedPlanner):
// MAC addresses derived from a base stay known over a restart, while a
// pid that an in-place start changes becomes unknown. Only the computed
// attributes of the provider's answer are taken.
func (p *Planner) planComputed(cs []*Change) {
	// Each change on every core: the providers' PlanComputed are pure,
	// and each writes its own change only.
	par.For(len(cs), func(i int) { p.planComputedOne(cs[i]) })
}

func (p *Planner) planComputedOne(c *Change) {
	switch c.Action {
	case Create, Update, DeleteThenCreate, CreateThenDelete:
	default:
		return
	}
	if c.Deposed || c.After == cty.NilVal || c.After.IsNull() || !c.After.IsKnown() {
		return
	}
	prov, ok := p.Registry.Provider(c.Provider)
	if !ok {
		return
	}
	cp, ok := prov.(providers.ComputedPlanner)
	if !ok {
		return
	}
	schema, err := p.Registry.Schema(c.Provider, c.Type)
	if err != nil {
		return
	}
	prior := c.Before
	cost := c.Cost
	if c.Action != Update {
		prior, cost = cty.NullVal(c.After.Type()), providers.Replace
	}
	got := cp.PlanComputed(providers.PlanRequest{Lab: p.LabInfo(c.Provider), Type: c.Type, Addr: c.Addr.String(),
		Prior: prior, Planned: c.After, Cost: cost})
	if got == cty.NilVal || got.IsNull() || !got.IsKnown() || !got.Type().Equals(c.After.Type()) {
		return
	}
	// Most answers change nothing (a create's computed attributes are
	// unknown already): the value is rebuilt only when one differs.
	same := true
	for name, a := range schema.Attributes {
		if a.Computed && !a.Optional && !got.GetAttr(name).RawEquals(c.After.GetAttr(name)) {
			same = false
			break
		}
	}
	if same {
		return
	}
	m := c.After.AsValueMap()
	for name, a := range schema.Attributes {
		if a.Computed && !a.Optional {
			m[name] = got.GetAttr(name)
		}
	}
	c.After = cty.ObjectVal(m)
}

// plannedValues maps each instance that the plan creates or keeps to its
// value after the plan: what outputs will see once it is applied.
func plannedValues(cs []*Change) map[addr.Instance]cty.Value {
	m := make(map[addr.Instance]cty.Value, len(cs))
	for _, c := range cs {
		if c.Deposed || c.Action == Delete || c.After == cty.NilVal || c.After.IsNull() {
			continue
		}
		m[c.Addr] = c.After
	}
	return m
}
