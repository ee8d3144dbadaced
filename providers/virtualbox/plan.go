package virtualbox

import (
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.ComputedPlanner = (*Provider)(nil)

// PlanComputed: with a base mac_address, adapter n gets base + n, known
// at plan time; without one, VirtualBox chose them when it made the
// clone, and an update (a restart included) keeps them while the
// adapters stay as they are. A VirtualBox VM has no pid of labform's.
func (p *Provider) PlanComputed(req providers.PlanRequest) cty.Value {
	v := req.Planned
	m := v.AsValueMap()
	m["pid"] = cty.NullVal(cty.Number)
	switch {
	case !v.GetAttr("mac_address").IsKnown() || !v.GetAttr("adapters").IsKnown():
		m["mac_addresses"] = cty.UnknownVal(cty.List(cty.String))
	case providers.String(v, "mac_address") != "":
		var l []cty.Value
		for _, hw := range p.macs(v) {
			l = append(l, cty.StringVal(colonMAC(hw)))
		}
		m["mac_addresses"] = cty.ListValEmpty(cty.String)
		if len(l) > 0 {
			m["mac_addresses"] = cty.ListVal(l)
		}
	case !req.Prior.IsNull() && req.Cost != providers.Replace &&
		req.Prior.GetAttr("adapters").RawEquals(v.GetAttr("adapters")) &&
		req.Prior.GetAttr("adapter_start_index").RawEquals(v.GetAttr("adapter_start_index")) &&
		req.Prior.GetAttr("mac_address").RawEquals(v.GetAttr("mac_address")):
		m["mac_addresses"] = req.Prior.GetAttr("mac_addresses")
	default:
		m["mac_addresses"] = cty.UnknownVal(cty.List(cty.String))
	}
	return cty.ObjectVal(m)
}
