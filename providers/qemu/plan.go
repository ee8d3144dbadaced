package qemu

import (
	"github.com/labform/labform/internal/ctyobj"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.ComputedPlanner = (*Provider)(nil)

// PlanComputed: a VM's MAC addresses from a base address (adapter n gets
// base + n) are known at plan time; without a base they are the VM's own,
// kept over an update or a restart that keeps the adapters, as is its
// QMP socket. Its pid changes whenever a process is started: on a
// create, a restart, or an in-place start of a stopped VM; a stopped VM
// has none.
func (p *Provider) PlanComputed(req providers.PlanRequest) cty.Value {
	v := req.Planned
	m := ctyobj.From(v)
	prior := func(name string) cty.Value {
		if req.Prior.IsNull() || req.Cost == providers.Replace || !ctyobj.WhollyKnown(req.Prior.GetAttr(name)) {
			return cty.UnknownVal(v.Type().AttributeType(name))
		}
		return req.Prior.GetAttr(name)
	}
	m.Set("qmp_socket", prior("qmp_socket"))
	base, n := v.GetAttr("mac_address"), v.GetAttr("adapters")
	switch {
	case !base.IsKnown() || !n.IsKnown() || n.IsNull():
		m.Set("mac_addresses", cty.UnknownVal(cty.List(cty.String)))
	case !base.IsNull() && base.AsString() != "":
		m.Set("mac_addresses", macList(macs(base.AsString(), "", num(v, "adapters")))) // from the base alone
	case !req.Prior.IsNull() && req.Prior.GetAttr("adapters").RawEquals(n) && req.Prior.GetAttr("mac_address").RawEquals(base):
		m.Set("mac_addresses", prior("mac_addresses"))
	default:
		m.Set("mac_addresses", cty.UnknownVal(cty.List(cty.String)))
	}
	to, from := providers.StateOf(v), providers.RunState("")
	if !req.Prior.IsNull() {
		from = providers.StateOf(req.Prior)
	}
	switch {
	case to == providers.Stopped:
		m.Set("pid", cty.NullVal(cty.Number))
	case req.Cost != providers.InPlace:
		m.Set("pid", cty.UnknownVal(cty.Number))
	case !from.Live():
		// Stopped, gone or in a state only a new process fixes.
		m.Set("pid", cty.UnknownVal(cty.Number))
	}
	return m.Value()
}

// macList is a list value of MAC addresses (an empty list for none).
func macList(l []string) cty.Value {
	if len(l) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(l))
	for i, s := range l {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}
