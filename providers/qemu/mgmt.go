package qemu

import (
	"os"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/mgmtnet"
	"github.com/zclconf/go-cty/cty"
)

// A QEMU VM on the lab's management network (providers/mgmt.go) has one
// more NIC after its adapters: a tap in the host's namespace on the
// management bridge, named providers.ManagementPort(ID), handed to QEMU as
// the fd after the adapters' taps. Its MAC continues the adapters' (base +
// adapters). The guest configures its address itself (mgmt_address says
// which): labform cannot reach inside a VM.

// managementMAC is the MAC of the VM's management NIC, "" when v puts it
// on no management network.
func managementMAC(v cty.Value, id string, adapters int) string {
	if v4, v6 := providers.ManagementAddresses(v); v4 == "" && v6 == "" {
		return ""
	}
	return macs(providers.String(v, "mac_address"), id, adapters+1)[adapters]
}

// nics are the MAC addresses of the VM's NICs in order: its adapters',
// then the management NIC's.
func (c *vmConfig) nics() []string {
	if c.MgmtMAC == "" {
		return c.MACs
	}
	return append(append([]string(nil), c.MACs...), c.MgmtMAC)
}

// openManagementTap opens the management NIC's tap, when the VM has one.
func (p *Provider) openManagementTap(c *vmConfig) (*os.File, error) {
	if c.MgmtMAC == "" {
		return nil, nil
	}
	return mgmtnet.OpenTap(providers.ManagementPort(c.ID), providers.ManagementBridge(p.lab.Key()))
}

// reattachManagement puts a running VM's management tap back on the
// management bridge (one made again after it was deleted by hand).
func (p *Provider) reattachManagement(id string, v cty.Value) error {
	if v4, v6 := providers.ManagementAddresses(v); v4 == "" && v6 == "" {
		return nil
	}
	return mgmtnet.Reattach(providers.ManagementPort(id), providers.ManagementBridge(p.lab.Key()))
}
