package mgmtnet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

func TestManagementHostsName(t *testing.T) {
	for in, want := range map[string]string{
		"vm.spine":                 "spine",
		"container.host[0]":        "host-0",
		`container.host["a"]`:      "host-a",
		"container.leaf_host[12]":  "leaf-host-12",
		`vm.r["eu west/1"]`:        "r-eu-west-1",
		"container-leaf.x":         "x",
		`container.c["--weird--"]`: "c-weird",
	} {
		if got := providers.ManagementHostsName(in); got != want {
			t.Errorf("ManagementHostsName(%s)\ngot:  %q\nwant: %q", in, got, want)
		}
	}
}

// TestHostsFile: what renderHosts writes, parseHosts reads back, so that a
// hosts file left as apply wrote it is no drift.
func TestHostsFile(t *testing.T) {
	hosts := cty.MapVal(map[string]cty.Value{
		"c-0":   cty.StringVal("172.30.0.2 fd00:30::2"),
		"fixed": cty.StringVal("172.30.0.50"),
	})
	got := renderHosts("campus", hosts)
	want := "# Written by labform for the lab campus: its nodes on the management network.\n" +
		"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"172.30.0.2\tc-0\nfd00:30::2\tc-0\n172.30.0.50\tfixed\n"
	if got != want {
		t.Fatalf("wrong hosts file\ngot:\n%s\nwant:\n%s", got, want)
	}
	back := parseHosts(got)
	if len(back) != 2 || back["c-0"] != "172.30.0.2 fd00:30::2" || back["fixed"] != "172.30.0.50" {
		t.Fatalf("wrong hosts read back: %v", back)
	}
	if again := renderHosts("campus", mapValue(back)); again != got {
		t.Fatalf("a hosts file read back renders differently:\n%s", again)
	}
}

// TestCheckHost_overlap: a subnet overlapping a route of the host's main
// table is refused on its attribute, naming the route; the same subnet is
// accepted when the route is the lab's own management bridge's.
func TestCheckHost_overlap(t *testing.T) {
	systest.Require(t) // reading routes needs no root, but the host must have one
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	var route *netlink.Route
	for i := range routes {
		if r := &routes[i]; r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones > 0 && ones <= 30 {
				route = r
				break
			}
		}
	}
	if route == nil {
		t.Fatal("the host's main table has no IPv4 route with a destination of /30 or larger to test against")
	}
	ip, _ := netip.AddrFromSlice(route.Dst.IP)
	ones, _ := route.Dst.Mask.Size()
	dst := netip.PrefixFrom(ip.Unmap(), ones)
	inner := netip.PrefixFrom(dst.Addr(), 30) // inside the route's destination
	link, err := netlink.LinkByIndex(route.LinkIndex)
	if err != nil {
		t.Fatal(err)
	}
	p := New()
	v := func(bridge string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"subnet": cty.StringVal(inner.String()), "subnet6": cty.NullVal(cty.String), "bridge": cty.StringVal(bridge),
			"host_address": cty.NullVal(cty.String), "host_address6": cty.NullVal(cty.String), "hosts": cty.MapValEmpty(cty.String),
		})
	}
	errs := p.CheckHost(providers.ManagementType, v("lfm000000000000"))
	if len(errs) != 1 || errs[0].Summary != "Management subnet overlaps a host route" || !errs[0].Path.Equals(cty.GetAttrPath("subnet")) ||
		!strings.Contains(errs[0].Detail, dst.String()) || !strings.Contains(errs[0].Detail, "dev "+link.Attrs().Name) {
		t.Fatalf("wrong errors for %s over the host's route %s dev %s: %v", inner, dst, link.Attrs().Name, errs)
	}
	if errs := p.CheckHost(providers.ManagementType, v(link.Attrs().Name)); len(errs) != 0 {
		t.Fatalf("the route of the lab's own bridge (%s) must not count: %v", link.Attrs().Name, errs)
	}
}

// TestDelete_hostsFile: deleting the network empties the hosts file in
// place before removing it, so that a container still running with it
// bind-mounted as /etc/hosts (its lab dropped the management block)
// stops resolving the nodes' names.
func TestDelete_hostsFile(t *testing.T) {
	systest.Require(t) // Delete looks for the bridge in the host's namespace
	lab := providers.Lab{Name: "deltest", Dir: t.TempDir(), ID: "d0e1e7e0" + strings.Repeat("5", 24)}
	f := lab.ManagementHostsFile()
	if err := writeHosts(f, renderHosts(lab.Name, cty.MapVal(map[string]cty.Value{"c-0": cty.StringVal("172.30.0.2")}))); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(f) // as a bind mount holds the file
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	p := New()
	p.lab = lab
	if err := p.Delete(context.Background(), providers.ApplyRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f); !os.IsNotExist(err) {
		t.Fatalf("the hosts file is still there: %v", err)
	}
	b, err := io.ReadAll(held)
	if err != nil {
		t.Fatal(err)
	}
	if want := renderHosts(lab.Name, cty.NullVal(cty.Map(cty.String))); string(b) != want || strings.Contains(string(b), "c-0") {
		t.Fatalf("a container holding the hosts file still reads:\n%s\nwant:\n%s", b, want)
	}
}

// TestCheckHost_address: a subnet holding an address of the host that no
// main-table route covers (a /32 on an interface, as on lo) is
// refused on its attribute, naming the address and the interface (a
// bridge here: this kernel may lack the dummy driver).
func TestCheckHost_address(t *testing.T) {
	systest.Require(t)
	var pfx netip.Prefix
	for try := 0; try < 50 && !pfx.IsValid(); try++ {
		p := netip.MustParsePrefix(fmt.Sprintf("198.%d.%d.0/24", 18+(os.Getpid()+try)%2, (os.Getpid()/2+try*37)%256))
		if r, err := OverlappingRoute(p, ""); err == nil && r == "" {
			if a, err := overlappingAddress(p, ""); err == nil && a == "" {
				pfx = p
			}
		}
	}
	if !pfx.IsValid() {
		t.Fatal("no free test subnet")
	}
	name := fmt.Sprintf("lfdt%d", os.Getpid()%1000000)
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	host := pfx.Addr().Next().Next().Next().Next().Next() // .5
	if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: host.AsSlice(), Mask: net.CIDRMask(32, 32)}}); err != nil {
		t.Fatal(err)
	}
	p := New()
	v := func(subnet, bridge string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{
			"subnet": cty.StringVal(subnet), "subnet6": cty.NullVal(cty.String), "bridge": cty.StringVal(bridge),
			"host_address": cty.NullVal(cty.String), "host_address6": cty.NullVal(cty.String), "hosts": cty.MapValEmpty(cty.String),
		})
	}
	errs := p.CheckHost(providers.ManagementType, v(pfx.String(), "lfm000000000000"))
	if len(errs) != 1 || errs[0].Summary != "Management subnet holds a host address" || !errs[0].Path.Equals(cty.GetAttrPath("subnet")) ||
		!strings.Contains(errs[0].Detail, host.String()+"/32, an address of the host on "+name) {
		t.Fatalf("wrong errors for %s holding the host's %s/32 on %s: %v", pfx, host, name, errs)
	}
	if errs := p.CheckHost(providers.ManagementType, v(pfx.String(), name)); len(errs) != 0 {
		t.Fatalf("an address on the lab's own bridge (%s) must not count: %v", name, errs)
	}
	if errs := p.CheckHost(providers.ManagementType, v(netip.PrefixFrom(pfx.Addr().Next().Next().Next().Next().Next().Next().Next().Next(), 30).String(), "")); len(errs) != 0 {
		t.Fatalf("a subnet next to the host's address is refused: %v", errs)
	}
}
