package virtualbox

import (
	"fmt"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.Describer = (*Provider)(nil)

// Describe gives a VirtualBox VM's host names: each adapter's veth pair
// (the host end the adapter is bridged to, the lab end links join) and
// the serial console's pipe.
func (p *Provider) Describe(req providers.DescribeRequest) providers.Description {
	id := req.Lab.IDFor(req.ID, req.Addr)
	v := req.Value
	d := providers.Description{LabNetns: providers.LabNetns(req.Lab.Name)}
	if v == cty.NilVal || v.IsNull() {
		return d
	}
	d.Image = providers.String(v, "template")
	at := &Provider{lab: req.Lab} // names only: nothing is run
	for i := 0; i < int(providers.Number(v, "adapters")); i++ {
		host := at.hostPort(id, i)
		d.Ports = append(d.Ports, providers.PortNames{Index: i, Inside: fmt.Sprintf("adapter %d", i), Host: labnet.PortName(id, i)})
		d.HostInterfaces = append(d.HostInterfaces, host, labnet.PortName(id, i))
	}
	if providers.String(v, "console") != "none" {
		pipe := at.pipe(id)
		d.Console = &providers.Console{Kind: "pipe", Address: pipe, Command: "socat -,raw,echo=0 UNIX-CONNECT:" + pipe}
	}
	return d
}
