package container

import (
	"strings"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.ComputedPlanner = (*Provider)(nil)

// PlanComputed: a container's pid is kept over an in-place change only
// when the process stays (limits, addresses, a pause or a resume);
// starting or stopping it changes the pid.
func (p *Provider) PlanComputed(req providers.PlanRequest) cty.Value {
	v := req.Planned
	if req.Cost != providers.InPlace || req.Prior.IsNull() {
		if !v.GetAttr("pid").IsKnown() {
			return v // a create's pid is unknown already
		}
		m := v.AsValueMap()
		m["pid"] = cty.UnknownVal(cty.Number)
		return cty.ObjectVal(m)
	}
	m := v.AsValueMap()
	// A refreshed state may say more ("running (port eth2 missing)").
	from, _, _ := strings.Cut(str(req.Prior, "state"), " ")
	to := providers.StateOf(v)
	if providers.RunState(from) != to && !(providers.RunState(from).Live() && to.Live()) {
		m["pid"] = cty.UnknownVal(cty.Number)
	}
	return cty.ObjectVal(m)
}
