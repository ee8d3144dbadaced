package virtualbox

import (
	"context"
	"strconv"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/mgmtnet"
	"github.com/zclconf/go-cty/cty"
)

// A VirtualBox VM on the lab's management network (providers/mgmt.go) has
// one more NIC after its adapters (index adapter_start_index + adapters +
// 1), bridged like the others to the host end of a veth pair: here a pair
// in the host's namespace whose other end (providers.ManagementPort) is a
// port of the management bridge. Its MAC is base + adapters when the VM
// has a mac_address. The guest configures its address itself.

func onManagement(v cty.Value) bool {
	v4, v6 := providers.ManagementAddresses(v)
	return v4 != "" || v6 != ""
}

// managementAdapter is the host interface the management NIC is bridged
// to.
func managementAdapter(id string) string { return "lfv" + id[:12] }

// managementNIC is the management NIC's index (1-based, as VBoxManage
// counts), 0 when the VM has none.
func managementNIC(v cty.Value) int {
	if !onManagement(v) {
		return 0
	}
	return num(v, "adapter_start_index") + num(v, "adapters") + 1
}

// managementSettings are modifyvm's arguments for the management NIC.
func (p *Provider) managementSettings(id string, v cty.Value, typ string) []string {
	n := managementNIC(v)
	if n == 0 {
		return nil
	}
	k := strconv.Itoa(n)
	a := []string{"--nic" + k, "bridged", "--nictype" + k, typ, "--bridgeadapter" + k, managementAdapter(id), "--cableconnected" + k, "on"}
	if base, ok := providers.BaseMAC(providers.String(v, "mac_address")); ok {
		a = append(a, "--macaddress"+k, vboxMAC(base, num(v, "adapters")))
	}
	return a
}

// managementPorts makes the management veth pair, or takes it away when
// the VM leaves the management network (prior is null for a create).
// Without a management network it touches nothing.
func (p *Provider) managementPorts(id string, prior, v cty.Value) error {
	if !onManagement(v) {
		if !prior.IsNull() && onManagement(prior) {
			return mgmtnet.Detach(providers.ManagementPort(id))
		}
		return nil
	}
	return mgmtnet.AttachHostVeth(providers.ManagementBridge(p.lab.Key()), mgmtnet.Group(p.lab.Key()), providers.ManagementPort(id), managementAdapter(id))
}

// managementMiswired is what refresh finds wrong with the management NIC:
// not bridged to its host veth, its cable disconnected, or the veth gone.
func (p *Provider) managementMiswired(id string, v cty.Value, info machineInfo) []string {
	n := managementNIC(v)
	if n == 0 {
		return nil
	}
	k, host := strconv.Itoa(n), managementAdapter(id)
	switch {
	case info["nic"+k] != "bridged" || info["bridgeadapter"+k] != host:
		return []string{"management nic" + k + " not bridged to " + host}
	case info["cableconnected"+k] != "on":
		return []string{"management nic" + k + " cable disconnected"}
	case !mgmtnet.Attached(providers.ManagementBridge(p.lab.Key()), providers.ManagementPort(id)):
		return []string{"management port " + providers.ManagementPort(id) + " not on the management bridge"}
	}
	return nil
}

// rewireManagement bridges a running VM's management NIC to its host veth
// again and connects its cable, in place.
func (p *Provider) rewireManagement(ctx context.Context, name, id string, v cty.Value) error {
	n := managementNIC(v)
	if n == 0 {
		return nil
	}
	k := strconv.Itoa(n)
	if _, err := p.vb.run(ctx, "controlvm", name, "nic"+k, "bridged", managementAdapter(id)); err != nil {
		return err
	}
	_, err := p.vb.run(ctx, "controlvm", name, "setlinkstate"+k, "on")
	return err
}
