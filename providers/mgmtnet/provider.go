package mgmtnet

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/labform/labform/providers"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

// Provider serves the management_network resource.
type Provider struct {
	lab providers.Lab
}

var (
	_ providers.Provider    = (*Provider)(nil)
	_ providers.Validator   = (*Provider)(nil)
	_ providers.HostChecker = (*Provider)(nil)
)

// New returns the management network provider.
func New() *Provider { return &Provider{} }

// Name is the provider's name.
func (p *Provider) Name() string { return providers.ManagementProvider }

// ConfigSchema: the provider takes no settings.
func (p *Provider) ConfigSchema() *providers.Block { return &providers.Block{} }

// Schemas: the management_network resource. subnet and subnet6 come from
// the lab's management block; the planner sets bridge, the host's
// addresses and hosts (node name to its addresses), so that the plan
// shows them.
func (p *Provider) Schemas() map[string]*providers.Schema {
	return map[string]*providers.Schema{providers.ManagementType: {Block: providers.Block{Attributes: map[string]*providers.Attribute{
		"subnet":        providers.Optional(cty.String, providers.InPlace, "the IPv4 management subnet, e.g. 172.30.0.0/24; the host holds its first address"),
		"subnet6":       providers.Optional(cty.String, providers.InPlace, "the IPv6 management subnet, e.g. fd00:30::/64; the host holds its first address"),
		"bridge":        providers.Computed(cty.String, "the management bridge in the host's namespace"),
		"host_address":  providers.Computed(cty.String, "the host's IPv4 address on the management network"),
		"host_address6": providers.Computed(cty.String, "the host's IPv6 address on the management network"),
		"hosts":         providers.Computed(cty.Map(cty.String), "node name to its management addresses, as the containers' /etc/hosts lists them"),
	}}}}
}

// Configure takes the lab.
func (p *Provider) Configure(_ context.Context, req providers.ConfigureRequest) error {
	p.lab = req.Lab
	return nil
}

// ValidateResource checks the subnets.
func (p *Provider) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	if typ != providers.ManagementType || v.IsNull() || !v.IsKnown() {
		return nil
	}
	var errs []*providers.AttrError
	any := false
	for _, a := range []struct {
		name string
		v6   bool
	}{{"subnet", false}, {"subnet6", true}} {
		s := v.GetAttr(a.name)
		if !s.IsKnown() {
			any = true
			continue
		}
		if s.IsNull() {
			continue
		}
		any = true
		if _, err := providers.ManagementSubnet(s.AsString(), a.v6); err != nil {
			errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath(a.name), Summary: "Invalid management subnet", Detail: err.Error()})
		}
	}
	if !any {
		errs = append(errs, &providers.AttrError{Summary: "Management network without a subnet",
			Detail: "a management block needs subnet (IPv4, e.g. \"172.30.0.0/24\"), subnet6 (IPv6, e.g. \"fd00:30::/64\") or both"})
	}
	return errs
}

// CheckHost refuses a subnet that overlaps a route of the host's main
// table (other than the lab's own management bridge's): the nodes'
// addresses would shadow, or be shadowed by, a network the host reaches
// already.
func (p *Provider) CheckHost(typ string, v cty.Value) []*providers.AttrError {
	if typ != providers.ManagementType || v.IsNull() || !v.IsKnown() {
		return nil
	}
	var errs []*providers.AttrError
	for _, a := range subnets(v) {
		if a.err != nil {
			continue // ValidateResource says so
		}
		s, pfx := a.text, a.pfx
		route, err := OverlappingRoute(pfx, providers.String(v, "bridge"))
		addr := ""
		if err == nil && route == "" {
			addr, err = overlappingAddress(pfx, providers.String(v, "bridge"))
		}
		switch {
		case err != nil:
			errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath(a.name), Summary: "Cannot read the host's routes",
				Detail: fmt.Sprintf("checking that %s overlaps no route or address of the host: %v", s, err)})
		case route != "":
			errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath(a.name), Summary: "Management subnet overlaps a host route",
				Detail: fmt.Sprintf("%s overlaps the host's route %s (main table). Choose a subnet that no route of the host covers, or remove that route.", s, route)})
		case addr != "":
			errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath(a.name), Summary: "Management subnet holds a host address",
				Detail: fmt.Sprintf("%s holds %s. Choose a subnet that holds no address of the host, or remove that address.", s, addr)})
		}
	}
	return errs
}

// OverlappingRoute returns the first route of the host's main table,
// described as `ip route` does, whose destination overlaps pfx; the
// default route and routes through ownBridge do not count.
func OverlappingRoute(pfx netip.Prefix, ownBridge string) (string, error) {
	return withHost(func(h *netlink.Handle) (string, error) {
		routes, err := h.RouteListFiltered(family(pfx), &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return "", err
		}
		own := -1
		if l, err := h.LinkByName(ownBridge); ownBridge != "" && err == nil {
			own = l.Attrs().Index
		}
		for _, r := range routes {
			if r.Dst == nil || r.LinkIndex == own {
				continue
			}
			ip, ok := netip.AddrFromSlice(r.Dst.IP)
			if !ok {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			dst := netip.PrefixFrom(ip.Unmap(), ones)
			if dst.Bits() == 0 || !dst.Overlaps(pfx) {
				continue
			}
			desc := dst.String()
			if r.Gw != nil {
				desc += " via " + r.Gw.String()
			}
			if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
				desc += " dev " + l.Attrs().Name
			}
			return desc, nil
		}
		return "", nil
	})
}

// overlappingAddress describes the first address of the host, on an
// interface other than ownBridge, that pfx contains: one with no route of
// the main table (a /32 on lo) that OverlappingRoute would not see.
func overlappingAddress(pfx netip.Prefix, ownBridge string) (string, error) {
	return withHost(func(h *netlink.Handle) (string, error) {
		addrs, err := h.AddrList(nil, family(pfx))
		if err != nil {
			return "", err
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok || !pfx.Contains(ip.Unmap()) {
				continue
			}
			name := fmt.Sprint(a.LinkIndex)
			if l, err := h.LinkByIndex(a.LinkIndex); err == nil {
				name = l.Attrs().Name
			}
			if name == ownBridge {
				continue
			}
			return fmt.Sprintf("%s, an address of the host on %s", a.IPNet, name), nil
		}
		return "", nil
	})
}

func (p *Provider) bridge() string { return providers.ManagementBridge(p.lab.Key()) }

// subnet is one of the subnets a management block sets: subnet (IPv4)
// and subnet6 (IPv6), each optional.
type subnet struct {
	name string // the attribute
	text string // its value as written
	pfx  netip.Prefix
	err  error // the value is no subnet (ValidateResource says why)
}

// subnets are the subnets v sets, IPv4 first.
func subnets(v cty.Value) []subnet {
	var out []subnet
	for _, a := range []struct {
		name string
		v6   bool
	}{{"subnet", false}, {"subnet6", true}} {
		if s := providers.String(v, a.name); s != "" {
			pfx, err := providers.ManagementSubnet(s, a.v6)
			out = append(out, subnet{name: a.name, text: s, pfx: pfx, err: err})
		}
	}
	return out
}

// hostPrefixes are the host's addresses on the bridge, as prefixes.
func hostPrefixes(v cty.Value) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range subnets(v) {
		if a.err != nil {
			return nil, a.err
		}
		out = append(out, netip.PrefixFrom(providers.ManagementHostAddress(a.pfx), a.pfx.Bits()))
	}
	return out, nil
}

// Read finds the bridge and reads back the host's addresses on it and the
// hosts file: a bridge deleted by hand reads as gone (apply makes it
// again), an address or a hosts line changed by hand is drift.
func (p *Provider) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	if req.Prior.IsNull() {
		return providers.ReadResponse{State: req.Prior}, nil
	}
	h, hostNs, err := hostHandle()
	if err != nil {
		return providers.ReadResponse{}, err
	}
	defer h.Close()
	defer hostNs.Close()
	br, err := h.LinkByName(p.bridge())
	if err != nil {
		if notFound(err) {
			return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
		}
		return providers.ReadResponse{}, err
	}
	have, err := globalAddrs(h, br)
	if err != nil {
		return providers.ReadResponse{}, err
	}
	m := req.Prior.AsValueMap()
	m["bridge"] = cty.StringVal(p.bridge())
	for i, name := range []string{"host_address", "host_address6"} {
		if !req.Prior.GetAttr(name).IsKnown() {
			// Found without a record (the lab's state was lost): what the
			// bridge holds.
			m[name] = cty.NullVal(cty.String)
			for _, a := range have {
				if a.Addr().Is6() == (i == 1) {
					m[name] = cty.StringVal(a.Addr().String())
					break
				}
			}
			continue
		}
		want := providers.String(req.Prior, name)
		if want == "" {
			continue
		}
		found := false
		for _, a := range have {
			found = found || a.Addr().String() == want
		}
		if !found {
			m[name] = cty.StringVal("")
		}
	}
	if b, err := os.ReadFile(p.lab.ManagementHostsFile()); err != nil || string(b) != renderHosts(p.lab.Name, req.Prior.GetAttr("hosts")) {
		m["hosts"] = mapValue(parseHosts(string(b)))
	}
	return providers.ReadResponse{State: cty.ObjectVal(m), Private: req.Private}, nil
}

// Create makes the bridge, gives the host its addresses on it and writes
// the hosts file.
func (p *Provider) Create(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.apply(req.Planned)
}

// Update re-addresses the bridge and rewrites the hosts file in place
// (containers see the new one at once: the file itself is bind-mounted).
func (p *Provider) Update(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.apply(req.Planned)
}

func (p *Provider) apply(v cty.Value) (providers.ApplyResponse, error) {
	want, err := hostPrefixes(v)
	if err != nil {
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	h, hostNs, err := hostHandle()
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	defer h.Close()
	defer hostNs.Close()
	name := p.bridge()
	br, err := ensureBridgeMAC(h, name, p.lab.Key())
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := syncAddrs(h, br, want); err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := writeHosts(p.lab.ManagementHostsFile(), renderHosts(p.lab.Name, v.GetAttr("hosts"))); err != nil {
		return providers.ApplyResponse{}, err
	}
	m := v.AsValueMap()
	m["bridge"] = cty.StringVal(name)
	m["host_address"], m["host_address6"] = cty.NullVal(cty.String), cty.NullVal(cty.String)
	for _, a := range want {
		if a.Addr().Is4() {
			m["host_address"] = cty.StringVal(a.Addr().String())
		} else {
			m["host_address6"] = cty.StringVal(a.Addr().String())
		}
	}
	if !m["hosts"].IsKnown() || m["hosts"].IsNull() {
		m["hosts"] = cty.MapValEmpty(cty.String)
	}
	return providers.ApplyResponse{State: cty.ObjectVal(m)}, nil
}

// ensureBridgeMAC is ensureBridge with a MAC address derived from the lab's
// ID: a bridge otherwise takes the lowest MAC of its ports, which changes
// as nodes come and go and leaves stale neighbour entries in the nodes.
func ensureBridgeMAC(h *netlink.Handle, name, labID string) (netlink.Link, error) {
	if _, err := h.LinkByName(name); notFound(err) {
		sum := sha256.Sum256([]byte("management\x00" + labID))
		mac := net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]} // locally administered, unicast
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: mac}}
		if err := h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating the management bridge %s: %w", name, err)
		}
	}
	return ensureBridge(h, name)
}

// Delete removes the bridge (with it the host's addresses and the route
// to the subnets) and the hosts file. The nodes, which depend on the
// network, are gone before: their host-side interfaces went with them.
func (p *Provider) Delete(_ context.Context, _ providers.ApplyRequest) error {
	h, hostNs, err := hostHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	defer hostNs.Close()
	// What is left of the nodes' host-side interfaces (a container's
	// goes with its namespace, which the kernel frees in the background)
	// goes in one request.
	if err := DeleteGroup(Group(p.lab.Key())); err != nil {
		return err
	}
	name := p.bridge()
	if l, err := h.LinkByName(name); err == nil {
		if _, ok := l.(*netlink.Bridge); !ok {
			return fmt.Errorf("%s is a %s, not the management bridge labform made; it was left alone", name, l.Type())
		}
		if err := h.LinkDel(l); err != nil && !notFound(err) {
			return fmt.Errorf("deleting the management bridge %s: %w", name, err)
		}
	} else if !notFound(err) {
		return err
	}
	// Containers that outlive the network (the lab dropped its
	// management block) have the file bind-mounted as /etc/hosts: it is
	// emptied of the nodes first, in place, so that they do not keep
	// resolving names to addresses nobody holds any more.
	f := p.lab.ManagementHostsFile()
	if _, err := os.Stat(f); err == nil {
		if err := writeHosts(f, renderHosts(p.lab.Name, cty.NullVal(cty.Map(cty.String)))); err != nil {
			return err
		}
	}
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(filepath.Dir(f)) // once empty
	return nil
}

// renderHosts is the hosts file for hosts (name to its addresses, space
// separated).
func renderHosts(lab string, hosts cty.Value) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by labform for the lab %s: its nodes on the management network.\n", lab)
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if hosts.IsNull() || !hosts.IsKnown() {
		return b.String()
	}
	m := hosts.AsValueMap()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, a := range strings.Fields(m[n].AsString()) {
			fmt.Fprintf(&b, "%s\t%s\n", a, n)
		}
	}
	return b.String()
}

// parseHosts reads back what renderHosts wrote: name to its addresses.
func parseHosts(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || f[1] == "localhost" {
			continue
		}
		if out[f[1]] != "" {
			out[f[1]] += " "
		}
		out[f[1]] += f[0]
	}
	return out
}

func mapValue(m map[string]string) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	vals := map[string]cty.Value{}
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	return cty.MapVal(vals)
}

// writeHosts writes the hosts file in place, mode 0644 (containers read
// it as any user): the file is bind-mounted into running containers, and
// a new file put in its place by a rename would not reach them.
func writeHosts(path, content string) error {
	if err := providers.PrivateDir(filepath.Dir(filepath.Dir(path))); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteAt([]byte(content), 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(content))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sleep() { time.Sleep(20 * time.Millisecond) }
