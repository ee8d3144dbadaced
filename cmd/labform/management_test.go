package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers/all"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestManagementExampleValidates: examples/management validates with the
// real providers.
func TestManagementExampleValidates(t *testing.T) {
	var out, errOut bytes.Buffer
	f := false
	if code := run([]string{"-chdir=../../examples/management", "validate"}, all.Registry(), stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &f}); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, errOut.String())
	}
}

// TestCLI_managementSubnetOverlapsAHostRoute: plan refuses a management
// subnet inside a route of the host's main table, at the subnet's line,
// naming the route; validate, which does not look at the host, accepts it.
func TestCLI_managementSubnetOverlapsAHostRoute(t *testing.T) {
	systest.Require(t)
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	var dst netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ip, _ := netip.AddrFromSlice(r.Dst.IP)
		if ones, _ := r.Dst.Mask.Size(); ones > 0 && ones <= 30 {
			dst = netip.PrefixFrom(ip.Unmap(), ones)
			break
		}
	}
	if !dst.IsValid() {
		t.Fatal("the host's main table has no IPv4 route of /30 or larger to test against")
	}
	dir := t.TempDir()
	src := fmt.Sprintf("lab {\n  management {\n    subnet = %q\n  }\n}\n", netip.PrefixFrom(dst.Addr(), 30))
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	labform := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		f := false
		code := run(append([]string{"-chdir=" + dir, "-no-color"}, args...), all.Registry(), stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &f})
		return code, out.String() + errOut.String()
	}
	if code, out := labform("validate"); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	code, out := labform("plan")
	out = strings.Join(strings.Fields(out), " ") // the detail is wrapped where the route's length puts it
	if code != 1 || !strings.Contains(out, "Error: Management subnet overlaps a host route") ||
		!strings.Contains(out, "main.lab.hcl line 3") || !strings.Contains(strings.Join(strings.Fields(out), " "), "the host's route "+dst.String()) { // the detail is wrapped
		t.Fatalf("plan: exit %d, want 1 with the overlap at main.lab.hcl line 3 naming %s:\n%s", code, dst, out)
	}
}
