package link

import (
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.Describer = (*Provider)(nil)

// Describe gives a link's bridge (none for a wire) and the lab-side
// ports it joins, in the lab namespace.
func (p *Provider) Describe(req providers.DescribeRequest) providers.Description {
	id := req.Lab.IDFor(req.ID, req.Addr)
	d := providers.Description{LabNetns: providers.LabNetns(req.Lab.Name)}
	if pv := privateOf(req.Private); !pv.Wire {
		d.Bridge = bridgeName(id)
		if pv.Bridge != "" {
			d.Bridge = pv.Bridge
		}
		d.HostInterfaces = append(d.HostInterfaces, d.Bridge)
	}
	if req.Value == cty.NilVal || req.Value.IsNull() {
		return d
	}
	for _, e := range endpoints(req.Value) {
		d.HostInterfaces = append(d.HostInterfaces, labnet.PortName(req.Lab.Object(e.node), e.port))
	}
	return d
}
