package qemu

import (
	"fmt"
	"path/filepath"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.Describer = (*Provider)(nil)

// Describe gives a VM's host names: its run directory (QMP socket,
// pidfile), its log, its taps in the lab namespace and its console.
func (p *Provider) Describe(req providers.DescribeRequest) providers.Description {
	id := req.Lab.IDFor(req.ID, req.Addr)
	v := req.Value
	d := providers.Description{
		RunDir:   runDirOf(id),
		LabNetns: providers.LabNetns(req.Lab.Name),
		Log:      filepath.Join(req.Lab.WorkDir, id[:12], logFile),
	}
	if v == cty.NilVal || v.IsNull() {
		return d
	}
	if d.Image = providers.String(v, "image"); d.Image == "" {
		d.Image = providers.String(v, "kernel")
	}
	for i := 0; i < num(v, "adapters"); i++ {
		tap := labnet.PortName(id, i)
		d.Ports = append(d.Ports, providers.PortNames{Index: i, Inside: fmt.Sprintf("adapter %d", i), Host: tap})
		d.HostInterfaces = append(d.HostInterfaces, tap)
	}
	d.Console = consoleOf(v)
	return d
}

// consoleOf is a VM's console endpoint: a TCP port on 127.0.0.1, as its
// console and console_port attributes say.
func consoleOf(v cty.Value) *providers.Console {
	kind := providers.String(v, "console")
	cp := v.GetAttr("console_port")
	if kind == "none" || kind == "" || !cp.IsKnown() || cp.IsNull() {
		return nil
	}
	port := num(v, "console_port")
	c := &providers.Console{Kind: kind, Address: fmt.Sprintf("127.0.0.1:%d", port)}
	switch kind {
	case "telnet":
		c.Command = fmt.Sprintf("telnet 127.0.0.1 %d", port)
	case "vnc":
		c.Command = fmt.Sprintf("vncviewer 127.0.0.1::%d", port)
	case "spice":
		c.Command = fmt.Sprintf("remote-viewer spice://127.0.0.1:%d", port)
	}
	return c
}
