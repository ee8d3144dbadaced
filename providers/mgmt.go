package providers

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// The management network. A lab whose lab block has a management block
// gets one more resource, which the lab does not write as a block of its
// own: ManagementType.ManagementName (management_network.lab). Config
// makes it from the management block; every vm and container depends on
// it, so the planner creates it before them and destroys it after them,
// and it is journaled and recorded like any other object.
//
// It is a bridge in the host's namespace, named after the lab's ID
// (ManagementBridge), holding the first address of each subnet (the
// host's), and a hosts file that containers see as /etc/hosts. Each node
// gets one more interface on that bridge (a container: the veth mgmt0; a
// VM: one more NIC after its adapters) and an address of the subnet, its
// mgmt_address (mgmt_address6 for IPv6): written by the lab, or assigned
// by the planner and kept in state, so that adding or removing a node
// never moves another node's address.
const (
	ManagementType     = "management_network"
	ManagementName     = "lab"
	ManagementProvider = "management"
)

// ManagementAddr is the management network's address as a string.
const ManagementAddr = ManagementType + "." + ManagementName

// ManagementBridge is the name of a lab's management bridge in the host's
// namespace: lfm and the first 12 digits of the lab's ID (15 bytes, the
// most an interface name may have).
func ManagementBridge(labID string) string {
	if len(labID) > 12 {
		labID = labID[:12]
	}
	return "lfm" + labID
}

// ManagementPort is the host-side name of a node's management interface
// (a container's veth peer, a QEMU VM's tap, a VirtualBox VM's veth): lfh
// and the first 12 digits of the node's object ID.
func ManagementPort(objectID string) string {
	if len(objectID) > 12 {
		objectID = objectID[:12]
	}
	return "lfh" + objectID
}

// ManagementInterface is the name of the management interface inside a
// container.
const ManagementInterface = "mgmt0"

// ManagementHostsFile is the hosts file the management network keeps for
// the lab's containers (bind-mounted read-only at /etc/hosts).
func (l Lab) ManagementHostsFile() string {
	return filepath.Join(l.Dir, ".labform", ManagementProvider, "hosts")
}

// AddManagementAttributes adds mgmt_address and mgmt_address6 to a node
// schema's attributes. cost is what changing them costs the node: in
// place for a container (labform sets the address on mgmt0), a restart
// for a VM (its management NIC comes and goes with the process).
func AddManagementAttributes(attrs map[string]*Attribute, cost Cost) {
	attrs["mgmt_address"] = OptionalComputed(cty.String, cost,
		"the node's IPv4 address on the lab's management network; assigned from the management subnet when not set")
	attrs["mgmt_address6"] = OptionalComputed(cty.String, cost,
		"the node's IPv6 address on the lab's management network; assigned from the management subnet6 when not set")
}

// ManagementAddresses returns a node value's management addresses ("" for
// none).
func ManagementAddresses(v cty.Value) (v4, v6 string) {
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute("mgmt_address") {
		return "", ""
	}
	return String(v, "mgmt_address"), String(v, "mgmt_address6")
}

// ManagementSubnet parses a management subnet as a lab writes it: a
// network address with its prefix length (172.30.0.0/24, fd00:30::/64),
// with room for the host and at least one node.
func ManagementSubnet(s string, v6 bool) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix such as %s", s, map[bool]string{false: "172.30.0.0/24", true: "fd00:30::/64"}[v6])
	}
	if p.Addr().Is6() != v6 || p.Addr().Is4In6() {
		if v6 {
			return netip.Prefix{}, fmt.Errorf("%q is not an IPv6 prefix; subnet6 takes one such as fd00:30::/64 (IPv4 goes in subnet)", s)
		}
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 prefix; subnet takes one such as 172.30.0.0/24 (IPv6 goes in subnet6)", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set: write the network's address, %s", s, p.Masked())
	}
	if max := p.Addr().BitLen() - 2; p.Bits() > max {
		return netip.Prefix{}, fmt.Errorf("%q is too small: a management subnet needs room for the host and a node (/%d at most)", s, max)
	}
	for _, r := range specialRanges {
		if p.Overlaps(r.prefix) {
			return netip.Prefix{}, fmt.Errorf("%q overlaps %s, %s, which cannot be a management network; choose a private range such as %s", s, r.prefix, r.what, map[bool]string{false: "172.30.0.0/24", true: "fd00:30::/64"}[v6])
		}
	}
	return p, nil
}

// specialRanges are the address ranges a management subnet may not
// overlap: no route of the host's main table covers them (loopback and
// the broadcast address are in the local table, link-local and multicast
// are on every interface), so the plan's route check would not see the
// clash.
var specialRanges = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "the IPv4 \"this network\" range"},
	{netip.MustParsePrefix("127.0.0.0/8"), "the IPv4 loopback range"},
	{netip.MustParsePrefix("169.254.0.0/16"), "the IPv4 link-local range"},
	{netip.MustParsePrefix("224.0.0.0/4"), "the IPv4 multicast range"},
	{netip.MustParsePrefix("240.0.0.0/4"), "the reserved IPv4 range (and the broadcast address)"},
	{netip.MustParsePrefix("::/127"), "the IPv6 unspecified and loopback addresses"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "the IPv4-mapped IPv6 range"},
	{netip.MustParsePrefix("fe80::/10"), "the IPv6 link-local range"},
	{netip.MustParsePrefix("ff00::/8"), "the IPv6 multicast range"},
}

// ManagementHostAddress is the host's address in a management subnet: its
// first address.
func ManagementHostAddress(p netip.Prefix) netip.Addr { return p.Addr().Next() }

// ManagementUsable reports whether a is an address a node may have in p:
// inside it, neither the network's address, the host's, nor (IPv4) the
// broadcast address.
func ManagementUsable(p netip.Prefix, a netip.Addr) bool {
	if !p.Contains(a) || a == p.Addr() || a == ManagementHostAddress(p) {
		return false
	}
	if a.Is4() && a.Next().IsValid() && !p.Contains(a.Next()) {
		return false // the broadcast address
	}
	return true
}

// ManagementHostname reports whether a container's hostname can go in the
// hosts file as a name of its own: labels of letters, digits, '-' and '_'
// (1 to 63 of them) separated by dots, 253 characters at most. Anything
// else (a space, a newline) would add words or lines to the file.
func ManagementHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// ManagementHostsName is the name a node has in the hosts file: its resource's name,
// with its count index or for_each key after a dash (leaf-0, host-a), in
// the characters a host name may hold.
func ManagementHostsName(a string) string {
	// a is vm.leaf[0], container.host["a"]: drop the type.
	if i := strings.IndexByte(a, '.'); i >= 0 {
		a = a[i+1:]
	}
	var b strings.Builder
	dash := false
	for _, r := range a {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r == ']' || r == '"':
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
