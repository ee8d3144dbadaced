package container

import (
	"context"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/mgmtnet"
)

// freeSubnets picks an IPv4 /24 (in 198.18.0.0/15, the benchmarking
// range) and an IPv6 /64 (in fd00::/8) that no route of the host
// overlaps, so that the test never shadows a network of the machine.
func freeSubnets(t *testing.T) (v4, v6 netip.Prefix) {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(os.Getpid())))
	for try := 0; try < 50; try++ {
		v4 = netip.MustParsePrefix(fmt.Sprintf("198.%d.%d.0/24", 18+rng.Intn(2), rng.Intn(256)))
		v6 = netip.MustParsePrefix(fmt.Sprintf("fd%02x:%x:%x::/64", rng.Intn(256), rng.Intn(65536), rng.Intn(65536)))
		r4, err4 := mgmtnet.OverlappingRoute(v4, "")
		r6, err6 := mgmtnet.OverlappingRoute(v6, "")
		if err4 != nil || err6 != nil {
			t.Fatal(err4, err6)
		}
		if r4 == "" && r6 == "" {
			return v4, v6
		}
	}
	t.Fatal("no free test subnet")
	return
}

// hostNet is the host namespace's interfaces and addresses, one line each
// (ip -o link / ip -o addr, without counters and link states that move on
// their own).
func hostNet(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, args := range [][]string{{"-o", "link", "show"}, {"-o", "addr", "show"}} {
		out, err := exec.Command("ip", args...).Output()
		if err != nil {
			t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			// Keep the interface's name and what it holds: "5: lfm..: <...>",
			// "5: lfm..    inet 198.18.3.1/24 ...".
			f := strings.Fields(l)
			if len(f) < 2 {
				continue
			}
			if args[1] == "addr" && len(f) >= 4 {
				lines = append(lines, "addr "+f[1]+" "+f[3])
			} else {
				lines = append(lines, "link "+strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"))
			}
		}
	}
	return lines
}

func missingFrom(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// TestManagement_containers_system: a lab with a management network. The
// host pings every container's management address (IPv4 and IPv6),
// containers reach each other by name through /etc/hosts, a node added
// later moves no other's address, and after destroy the host's
// interfaces and addresses are as before.
func TestManagement_containers_system(t *testing.T) {
	systest.Require(t, "runc", "busybox", "ip")
	v4, v6 := freeSubnets(t)
	prov := New()
	l := systest.NewLab(t, fmt.Sprintf("lfmg%d", os.Getpid()%100000), prov, mgmtnet.New())
	systest.BusyboxRootfs(t, filepath.Join(l.Dir, "rootfs"), "sh", "sleep", "ping", "cat")
	before := hostNet(t)
	nodes := []string{"container.a", "container.c[0]", "container.c[1]", "container.fixed"}
	t.Cleanup(func() {
		l.DestroyQuietly()
		root := RuntimeRoot(l.LabID())
		if list, err := (ociRuntime{path: "runc", root: root}).list(context.Background()); err == nil {
			for id := range list {
				exec.Command("runc", "--root", root, "delete", "-f", id).Run()
			}
		}
		os.RemoveAll(root)
		for _, a := range nodes {
			labnet.DeleteNetns(nameFor(l.ID(a)).netns)
			mgmtnet.Detach(providers.ManagementPort(l.ID(a)))
		}
		exec.Command("ip", "link", "del", providers.ManagementBridge(l.LabID())).Run()
		labnet.DeleteNetns(providers.LabNetns(l.Name))
	})
	fixed := v4.Addr().Next().Next().Next().Next().Next().Next().Next().Next().Next().Next() // .10
	write := func(extra string) {
		src := fmt.Sprintf(`lab {
  name = %q
  management {
    subnet  = %q
    subnet6 = %q
  }
}
container "c" {
  count        = 2
  rootfs       = "rootfs"
  command      = ["sleep", "infinity"]
  capabilities = ["CAP_NET_RAW"]
}
container "fixed" {
  rootfs       = "rootfs"
  command      = ["sleep", "infinity"]
  capabilities = ["CAP_NET_RAW"]
  mgmt_address = %q
}
%s`, l.Name, v4, v6, fixed, extra)
		if err := os.WriteFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	l.Apply(planner.NormalMode)

	addrs := func() map[string][2]string {
		out := map[string][2]string{}
		for _, a := range nodes {
			rec, err := l.Store.Get(a)
			if err != nil || rec == nil {
				continue
			}
			v, _, err := planner.DecodeRecord(l.Reg, rec.Type, rec.Provider, rec.Value)
			if err != nil {
				t.Fatal(err)
			}
			v4, v6 := providers.ManagementAddresses(v)
			out[a] = [2]string{v4, v6}
		}
		return out
	}
	got := addrs()
	host4 := providers.ManagementHostAddress(v4).Next()
	want := map[string][2]string{
		"container.c[0]":  {host4.String(), providers.ManagementHostAddress(v6).Next().String()},
		"container.c[1]":  {host4.Next().String(), providers.ManagementHostAddress(v6).Next().Next().String()},
		"container.fixed": {fixed.String(), providers.ManagementHostAddress(v6).Next().Next().Next().String()},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("wrong management addresses\ngot:  %v\nwant: %v", got, want)
	}
	ping := func(addrs map[string][2]string) {
		t.Helper()
		for a, ips := range addrs {
			for _, ip := range ips {
				if out, err := exec.Command("busybox", "ping", "-c", "1", "-W", "3", ip).CombinedOutput(); err != nil {
					t.Errorf("the host cannot ping %s's management address %s: %v\n%s", a, ip, err, out)
				}
			}
		}
	}
	ping(got)
	exec1 := func(addr string, args ...string) (string, error) {
		out, err := exec.Command("runc", append([]string{"--root", RuntimeRoot(l.LabID()), "exec", nameFor(l.ID(addr)).id}, args...)...).CombinedOutput()
		return string(out), err
	}
	hosts, err := exec1("container.c[0]", "cat", "/etc/hosts")
	if err != nil {
		t.Fatalf("cat /etc/hosts in container.c[0]: %v\n%s", err, hosts)
	}
	for name, ip := range map[string]string{"c-0": want["container.c[0]"][0], "c-1": want["container.c[1]"][0], "fixed": fixed.String()} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ip) + `\s+` + name + `$`).MatchString(hosts) {
			t.Errorf("/etc/hosts lacks %s %s:\n%s", ip, name, hosts)
		}
	}
	if out, err := exec1("container.c[0]", "ping", "-c", "1", "-W", "3", "fixed"); err != nil {
		t.Errorf("container.c[0] cannot ping fixed by name: %v\n%s", err, out)
	}
	routes, err := exec1("container.c[0]", "cat", "/proc/net/route")
	if err != nil {
		t.Fatalf("reading container.c[0]'s routes: %v\n%s", err, routes)
	}
	for _, line := range strings.Split(routes, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "mgmt0" && f[1] == "00000000" {
			t.Errorf("container.c[0] got a default route from the management network:\n%s", routes)
		}
	}

	// A node added later, sorting before the others, gets a free address;
	// the others keep theirs, and the running containers see it in
	// /etc/hosts (the file is rewritten in place).
	write(`container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "infinity"]
}
`)
	l.Apply(planner.NormalMode)
	after := addrs()
	for a, ips := range want {
		if after[a] != ips {
			t.Errorf("%s's management addresses moved when a node was added: %v -> %v", a, ips, after[a])
		}
	}
	if after["container.a"][0] != host4.Next().Next().String() {
		t.Errorf("the new node got %v, want the lowest free IPv4 address %s", after["container.a"], host4.Next().Next())
	}
	ping(map[string][2]string{"container.a": after["container.a"]})
	if out, err := exec1("container.c[1]", "ping", "-c", "1", "-W", "3", "a"); err != nil {
		t.Errorf("container.c[1] (running before a was added) cannot ping a by name: %v\n%s", err, out)
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Errorf("a second plan has changes: %v", plan.Changes)
	}

	// The bridge deleted by hand: apply makes it again and joins every
	// container's mgmt0 to it, in place (same processes).
	pids := func() string {
		var b strings.Builder
		for _, a := range nodes {
			rec, _ := l.Store.Get(a)
			v, _, err := planner.DecodeRecord(l.Reg, rec.Type, rec.Provider, rec.Value)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s=%s ", a, v.GetAttr("pid").AsBigFloat().String())
		}
		return b.String()
	}
	pidsBefore := pids()
	if out, err := exec.Command("ip", "link", "del", providers.ManagementBridge(l.LabID())).CombinedOutput(); err != nil {
		t.Fatalf("deleting the bridge by hand: %v\n%s", err, out)
	}
	l.Apply(planner.NormalMode)
	ping(after)
	if now := pids(); now != pidsBefore {
		t.Errorf("repairing the bridge restarted containers\ngot:  %s\nwant: %s", now, pidsBefore)
	}

	// The subnet narrowed, every address kept (/24 to /25): one apply
	// gives the bridge and every container's mgmt0 the new length, in
	// place (the plan shows each node's address with its old length).
	v4 = netip.PrefixFrom(v4.Addr(), 25)
	write(`container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "infinity"]
}
`)
	_, plan := l.Plan(planner.NormalMode)
	var changed []string
	for _, c := range plan.Changes {
		if c.Action != planner.NoOp {
			changed = append(changed, fmt.Sprintf("%s %s %s", c.Addr, c.Action, c.Cost))
		}
	}
	sort.Strings(changed)
	var wantChanged []string
	for _, a := range append(append([]string(nil), nodes...), providers.ManagementAddr) {
		wantChanged = append(wantChanged, fmt.Sprintf("%s update %s", a, providers.InPlace))
	}
	sort.Strings(wantChanged)
	if fmt.Sprint(changed) != fmt.Sprint(wantChanged) {
		t.Errorf("narrowing the subnet plans\n%v\nwant the network and every node updated in place:\n%v", changed, wantChanged)
	}
	l.Apply(planner.NormalMode)
	for _, a := range nodes {
		out, err := exec.Command("ip", "-n", nameFor(l.ID(a)).netns, "-o", "-4", "addr", "show", "dev", providers.ManagementInterface).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "/25 ") {
			t.Errorf("%s's mgmt0 after the subnet narrowed to %s: %v\n%s", a, v4, err, out)
		}
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Errorf("a plan after the repair has changes: %v", plan.Changes)
	}

	l.Apply(planner.DestroyMode)
	now := hostNet(t)
	// Other tests may come and go on this machine meanwhile: what this lab
	// added must be gone, and nothing the host had may be missing.
	ours := regexp.MustCompile(`\b(` + providers.ManagementBridge(l.LabID()) + `|lfh[0-9a-f]{12})\b|` +
		regexp.QuoteMeta(strings.TrimSuffix(v4.Addr().String(), ".0")) + `\.|` + regexp.QuoteMeta(strings.TrimSuffix(v6.Addr().String(), "::")) + `:`)
	for _, line := range missingFrom(now, before) {
		if ours.MatchString(line) {
			t.Errorf("left on the host after destroy: %s", line)
		}
	}
	for _, line := range missingFrom(before, now) {
		if !regexp.MustCompile(`^(link|addr) (lf|veth|tap)`).MatchString(line) { // other tests' objects come and go
			t.Errorf("gone from the host after destroy: %s", line)
		}
	}
	if _, err := os.Stat(l.Dir + "/.labform/management"); err == nil {
		t.Errorf("the hosts file's directory is left after destroy")
	}
}
