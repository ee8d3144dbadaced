package qemu

import (
	"path/filepath"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.ComputedPlanner = (*Provider)(nil)

// PlanComputed: a VM's MAC addresses derive from its base address (or
// the lab and the VM's address) and its QMP socket from its working
// directory, so both are known at plan time, over a restart too. Its pid
// changes whenever a process is started: on a create, a restart, or an
// in-place start of a stopped VM; a stopped VM has none.
func (p *Provider) PlanComputed(req providers.PlanRequest) cty.Value {
	v := req.Planned
	m := v.AsValueMap()
	dir := dirIn(req.Lab.WorkDir, req.Addr)
	m["qmp_socket"] = cty.StringVal(filepath.Join(dir, qmpFile))
	if base, n := v.GetAttr("mac_address"), v.GetAttr("adapters"); base.IsKnown() && n.IsKnown() && !n.IsNull() {
		m["mac_addresses"] = macList(macs(providers.String(v, "mac_address"), req.Lab.Dir, req.Addr, num(v, "adapters")))
	} else {
		m["mac_addresses"] = cty.UnknownVal(cty.List(cty.String))
	}
	to, from := providers.String(v, "state"), ""
	if !req.Prior.IsNull() {
		from = providers.String(req.Prior, "state")
	}
	switch {
	case to == "stopped":
		m["pid"] = cty.NullVal(cty.Number)
	case req.Cost != providers.InPlace:
		m["pid"] = cty.UnknownVal(cty.Number)
	case from != "running" && from != "paused":
		// Stopped, gone or in a state only a new process fixes.
		m["pid"] = cty.UnknownVal(cty.Number)
	}
	return cty.ObjectVal(m)
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
