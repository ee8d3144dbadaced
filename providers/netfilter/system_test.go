package netfilter

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
)

// nfLab is a lab whose chains use target = lab, with a client namespace
// of the test's own joined to the lab namespace by a veth pair: the lab
// side is 10.231.0.1 (and fd31::1), the client 10.231.0.2 (fd31::2). The
// test creates the lab namespace itself, with another tool's rules in it,
// so that it can check that labform leaves them alone.
type nfLab struct {
	*systest.Lab
	prov             *Provider
	labNS, client    string
	restores         int
	mu               sync.Mutex
	before4, before6 string
}

func newNFLab(t testing.TB, tag string) *nfLab {
	systest.Require(t, "ip", "iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save", "iptables", "busybox")
	id := fmt.Sprintf("%d%s", os.Getpid()%100000, tag)
	prov := New()
	l := &nfLab{Lab: systest.NewLab(t, "lfnf"+id, prov), prov: prov, client: "lfnc" + id}
	l.labNS = providers.LabNetns(l.Name)
	run := prov.run
	prov.run = func(ctx context.Context, ns string, stdin io.Reader, name string, args ...string) ([]byte, error) {
		if strings.HasSuffix(name, "-restore") {
			l.mu.Lock()
			l.restores++
			l.mu.Unlock()
		}
		return run(ctx, ns, stdin, name, args...)
	}
	t.Cleanup(func() {
		l.DestroyQuietly()
		labnet.DeleteNetns(l.client) // its veth end goes with it
		labnet.DeleteNetns(l.labNS)
		os.RemoveAll(filepath.Join(labnet.HoldsDir, l.labNS))
	})
	veth := "lfnv" + id
	for _, args := range [][]string{
		{"netns", "add", l.labNS}, {"netns", "add", l.client},
		{"link", "add", veth + "a", "type", "veth", "peer", "name", veth + "b"},
		{"link", "set", veth + "a", "netns", l.labNS}, {"link", "set", veth + "b", "netns", l.client},
		{"-n", l.labNS, "addr", "add", "10.231.0.1/24", "dev", veth + "a"},
		{"-n", l.labNS, "addr", "add", "fd31::1/64", "dev", veth + "a", "nodad"},
		{"-n", l.client, "addr", "add", "10.231.0.2/24", "dev", veth + "b"},
		{"-n", l.client, "addr", "add", "fd31::2/64", "dev", veth + "b", "nodad"},
		{"-n", l.labNS, "link", "set", veth + "a", "up"}, {"-n", l.client, "link", "set", veth + "b", "up"},
		{"-n", l.labNS, "link", "set", "lo", "up"}, {"-n", l.client, "link", "set", "lo", "up"},
	} {
		sh(t, "", "ip", args...)
	}
	// Another tool's rules, in the same tables labform will use.
	sh(t, l.labNS, "iptables", "-N", "OTHER")
	sh(t, l.labNS, "iptables", "-A", "OTHER", "-s", "192.0.2.7", "-j", "DROP")
	sh(t, l.labNS, "iptables", "-A", "INPUT", "-j", "OTHER")
	sh(t, l.labNS, "iptables", "-A", "OUTPUT", "-d", "192.0.2.8", "-j", "REJECT")
	l.before4, l.before6 = l.save("iptables-save"), l.save("ip6tables-save")
	return l
}

// sh runs a command, in ns unless ns is empty, and fails the test on error.
func sh(t testing.TB, ns string, name string, args ...string) string {
	t.Helper()
	if ns != "" {
		out, err := labnet.Output(context.Background(), ns, nil, nil, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

// save is the lab namespace's ruleset without what changes by itself
// (the header's date, packet counters).
func (l *nfLab) save(tool string) string {
	var keep []string
	for _, line := range strings.Split(sh(l.T, l.labNS, tool), "\n") {
		if !strings.HasPrefix(line, "#") {
			keep = append(keep, counters.ReplaceAllString(line, "[0:0]"))
		}
	}
	return strings.Join(keep, "\n")
}

// inNetns runs fn inside the named namespace: sockets made there stay
// there.
func inNetns(t testing.TB, name string, fn func()) {
	t.Helper()
	if err := labnet.Within(name, func() error { fn(); return nil }); err != nil {
		t.Fatal(err)
	}
}

// listen accepts and closes connections on addr in a namespace until the
// test ends.
func listen(t testing.TB, ns, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	inNetns(t, ns, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// dial reports whether a TCP connection from ns to addr is accepted.
func dial(t testing.TB, ns, addr string) bool {
	t.Helper()
	var c net.Conn
	var err error
	inNetns(t, ns, func() { c, err = net.DialTimeout("tcp", addr, 700*time.Millisecond) })
	if err == nil {
		c.Close()
	}
	return err == nil
}

// dialAs connects from ns as the given uid, with busybox nc: the owner
// match sees that uid on the socket.
func dialAs(t testing.TB, ns string, uid uint32, host, port string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := labnet.Output(ctx, ns, []byte{}, &syscall.Credential{Uid: uid, Gid: uid}, "busybox", "nc", "-w", "1", host, port)
	return err == nil
}

func (l *nfLab) change(p *planner.Plan, addr string) *planner.Change {
	for _, c := range p.Changes {
		if c.Addr.String() == addr {
			return c
		}
	}
	return nil
}

// TestSystem_allowlistDenylistAndUIDs checks the chains with real
// traffic: an allowlist from INPUT passes the allowed port and drops the
// others; uid rules from OUTPUT pass a listed uid and drop another; a
// denylist drops its listed uid; and destroy leaves the ruleset as the
// test found it.
func TestSystem_allowlistDenylistAndUIDs(t *testing.T) {
	l := newNFLab(t, "t")
	for _, a := range []string{"10.231.0.1:8080", "10.231.0.1:8081", "[fd31::1]:8080", "[fd31::1]:8081"} {
		listen(t, l.labNS, a)
	}
	listen(t, l.client, "10.231.0.2:9000")
	if !dial(t, l.client, "10.231.0.1:8081") {
		t.Fatal("before any chain, the client cannot connect: the test's network is broken")
	}
	chains := func(outMode, outUIDs string) string {
		return fmt.Sprintf(`
firewall_chain "web_in" {
  target = lab
  family = "both"
  hooks  = ["INPUT"]
  mode   = "allowlist"
  rule {
    protocol = "tcp"
    dport    = 8080
    action   = "accept"
    comment  = "web"
  }
  rule {
    protocol = "tcp"
    sport    = 9000
    ct_state = ["established"]
    action   = "accept"
  }
}

firewall_chain "apps_out" {
  target = lab
  hooks  = ["OUTPUT"]
  mode   = %q
  uids   = %s
}
`, outMode, outUIDs)
	}
	l.Write(chains("allowlist", "[12345]"))
	l.Apply(planner.NormalMode)
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Fatalf("a second plan right after apply has changes:\n%s", render.Plan(plan, false))
	}
	for _, c := range []struct {
		addr string
		want bool
	}{{"10.231.0.1:8080", true}, {"10.231.0.1:8081", false}, {"[fd31::1]:8080", true}, {"[fd31::1]:8081", false}} {
		if got := dial(t, l.client, c.addr); got != c.want {
			t.Errorf("connect to %s: got %v, want %v", c.addr, got, c.want)
		}
	}
	// uid 12345 is listed, 23456 is an app uid that is not, 0 is the system's.
	for _, c := range []struct {
		uid  uint32
		want bool
	}{{12345, true}, {23456, false}, {0, true}} {
		if got := dialAs(t, l.labNS, c.uid, "10.231.0.2", "9000"); got != c.want {
			t.Errorf("allowlist: connect out as uid %d: got %v, want %v", c.uid, got, c.want)
		}
	}
	// The same chain as a denylist of 23456: changed in place.
	l.Write(chains("denylist", "[23456]"))
	_, plan := l.Plan(planner.NormalMode)
	if c := l.change(plan, "firewall_chain.apps_out"); c == nil || c.Action != planner.Update {
		t.Fatalf("mode change: want an in-place update:\n%s", render.Plan(plan, false))
	}
	l.Apply(planner.NormalMode)
	for _, c := range []struct {
		uid  uint32
		want bool
	}{{12345, true}, {23456, false}} {
		if got := dialAs(t, l.labNS, c.uid, "10.231.0.2", "9000"); got != c.want {
			t.Errorf("denylist: connect out as uid %d: got %v, want %v", c.uid, got, c.want)
		}
	}
	l.Apply(planner.DestroyMode)
	if got := l.save("iptables-save"); got != l.before4 {
		t.Errorf("after destroy, iptables-save differs from before the apply:\n--- before\n%s\n--- after\n%s", l.before4, got)
	}
	// ip6tables had no table before; labform's restore made the filter
	// table, which stays with its empty built-in chains (ACCEPT policies):
	// no rule of labform's is left.
	if got := l.save("ip6tables-save"); got != l.before6 && (strings.Contains(got, "-A ") || strings.Contains(got, "DROP")) {
		t.Errorf("after destroy, ip6tables-save still has rules:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(labnet.HoldsDir, l.labNS)); err == nil {
		if holds, _ := os.ReadDir(filepath.Join(labnet.HoldsDir, l.labNS)); len(holds) > 0 {
			t.Errorf("destroy left holds on the lab namespace: %v", holds)
		}
	}
}

// TestSystem_drift: rules inserted, deleted and changed by hand, a
// missing jump, a deleted chain and a changed mode line all show in the
// plan, rule by rule, and apply repairs them.
func TestSystem_drift(t *testing.T) {
	l := newNFLab(t, "d")
	l.Write(`
firewall_chain "guard" {
  target = lab
  hooks  = ["INPUT"]
  mode   = "allowlist"
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
  rule {
    protocol = "tcp"
    dport    = 80
    source   = "10.231.0.0/24"
    action   = "accept"
    comment  = "web"
  }
}
`)
	l.Apply(planner.NormalMode)
	const addr = "firewall_chain.guard"
	expectDrift := func(what string, action planner.Action, shows ...string) {
		t.Helper()
		_, plan := l.Plan(planner.NormalMode)
		c := l.change(plan, addr)
		out := render.Plan(plan, false)
		if c == nil || c.Action != action {
			t.Fatalf("%s: want %s of %s in the plan:\n%s", what, action, addr, out)
		}
		for _, s := range shows {
			if !strings.Contains(out, s) {
				t.Errorf("%s: the plan does not show %q:\n%s", what, s, out)
			}
		}
		l.Apply(planner.NormalMode)
		if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
			t.Fatalf("%s: apply did not repair it:\n%s", what, render.Plan(plan, false))
		}
	}
	ipt := func(args ...string) { sh(t, l.labNS, "iptables", args...) }

	ipt("-I", "guard", "4", "-p", "tcp", "--dport", "23", "-j", "ACCEPT")
	expectDrift("a rule inserted by hand", planner.Update, `dport`, `"23"`, "- {")

	ipt("-D", "guard", "-s", "10.231.0.0/24", "-p", "tcp", "-m", "tcp", "--dport", "80", "-m", "comment", "--comment", "web", "-j", "ACCEPT")
	expectDrift("a rule deleted by hand", planner.Update, "+ {", `"80"`)

	ipt("-R", "guard", "5", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT")
	expectDrift("a rule changed by hand", planner.Update, `"2222"`, `"22"`)

	ipt("-D", "INPUT", "-j", "guard")
	expectDrift("a missing jump", planner.Update, "hooks", `"INPUT"`)

	ipt("-D", "guard", "-i", "lo", "-j", "RETURN")
	expectDrift("a mode line deleted", planner.Update, "changed by hand")

	ipt("-D", "INPUT", "-j", "guard")
	ipt("-F", "guard")
	ipt("-X", "guard")
	expectDrift("a deleted chain", planner.Create)

	if got := sh(t, l.labNS, "iptables-save", "-t", "filter"); strings.Count(got, "-A INPUT -j guard") != 1 {
		t.Fatalf("after the repairs, want exactly one jump to guard:\n%s", got)
	}
}

// TestSystem_tenThousandRulesOneRestorePerFamily: creating and then
// changing a chain of 10,000 rules in both families takes one
// iptables-restore per family each time, never a rule at a time.
func TestSystem_tenThousandRulesOneRestorePerFamily(t *testing.T) {
	l := newNFLab(t, "b")
	write := func(firstPort int) {
		var b strings.Builder
		b.WriteString("firewall_chain \"big\" {\n  target = lab\n  family = \"both\"\n  hooks  = [\"FORWARD\"]\n")
		for i := 0; i < 10000; i++ {
			fmt.Fprintf(&b, "  rule {\n    protocol = \"tcp\"\n    dport    = %d\n    action   = \"accept\"\n  }\n", firstPort+i)
		}
		b.WriteString("}\n")
		l.Write(b.String())
	}
	write(20000)
	l.Apply(planner.NormalMode)
	if l.restores != 2 {
		t.Fatalf("create: %d restores, want 2 (one per family)", l.restores)
	}
	write(20001)
	l.restores = 0
	l.Apply(planner.NormalMode)
	if l.restores != 2 {
		t.Fatalf("update: %d restores, want 2 (one per family)", l.restores)
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		save := sh(t, l.labNS, tool, "-t", "filter")
		if n := strings.Count(save, "-A big -p tcp -m tcp --dport "); n != 10000 || !strings.Contains(save, "--dport 30000 -j ACCEPT") || strings.Contains(save, "--dport 20000 -j") {
			t.Fatalf("%s: want the 10,000 new rules (20001-30000), found %d", tool, n)
		}
	}
}

// TestSystem_containerTarget: a chain lands in its container's pinned
// namespace, comes back when the container is replaced (a new, empty
// namespace), and goes with destroy.
func TestSystem_containerTarget(t *testing.T) {
	systest.Require(t, "runc", "busybox", "iptables-save", "iptables-restore")
	l := systest.NewLab(t, fmt.Sprintf("lfnk%d", os.Getpid()%100000), container.New(), New())
	systest.BusyboxRootfs(t, filepath.Join(l.Dir, "rootfs"), "sleep")
	systest.BusyboxRootfs(t, filepath.Join(l.Dir, "rootfs2"), "sleep")
	ns := labnet.ContainerNetns(l.ID("container.c"))
	t.Cleanup(func() {
		l.DestroyQuietly()
		root := container.RuntimeRoot(l.LabID())
		systest.RemoveRuncRoot(root)
		labnet.DeleteNetns(ns)
		labnet.DeleteNetns(providers.LabNetns(l.Name))
	})
	lab := func(rootfs string) string {
		return fmt.Sprintf(`
container "c" {
  rootfs  = %q
  command = ["sleep", "3600"]
}
firewall_chain "c_in" {
  target = container.c
  hooks  = ["INPUT"]
  mode   = "allowlist"
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
}
`, rootfs)
	}
	l.Write(lab("rootfs"))
	l.Apply(planner.NormalMode)
	hasChain := func(when string) {
		t.Helper()
		if got := sh(t, ns, "iptables-save", "-t", "filter"); !strings.Contains(got, "-A INPUT -j c_in") || !strings.Contains(got, "--dport 22 -j ACCEPT") {
			t.Fatalf("%s: the chain is not in the container's namespace %s:\n%s", when, ns, got)
		}
	}
	hasChain("after create")
	l.Write(lab("rootfs2"))
	_, plan := l.Plan(planner.NormalMode)
	var ch *planner.Change
	for _, c := range plan.Changes {
		if c.Addr.String() == "firewall_chain.c_in" {
			ch = c
		}
	}
	if ch == nil || ch.Action != planner.Update {
		t.Fatalf("a replaced container: want its chain applied again:\n%s", render.Plan(plan, false))
	}
	l.Apply(planner.NormalMode)
	hasChain("after the container was replaced")
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render.Plan(plan, false))
	}
	l.Apply(planner.DestroyMode)
	if _, err := os.Stat(filepath.Join(labnet.Dir, ns)); err == nil {
		t.Fatalf("destroy left the namespace %s", ns)
	}
}

// TestSystem_restoreRejectsMidStream: iptables-restore rejects a rule of a
// large chain (an ICMP type it does not know, which validate cannot
// tell) while apply is still writing the input: the error quotes that
// line of the input, and the chain applied before is left as it was.
func TestSystem_restoreRejectsMidStream(t *testing.T) {
	l := newNFLab(t, "m")
	l.Write(bigChain(6000, 20000))
	l.Apply(planner.NormalMode)
	before := l.save("iptables-save")
	src := bigChain(6000, 21000)
	src = strings.Replace(src, "    protocol = \"tcp\"\n    dport    = 26000\n", "    protocol = \"icmp\"\n    icmp_type = \"not-a-type\"\n", 1)
	l.Write(src)
	p, plan := l.Plan(planner.NormalMode)
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	err := res.Err()
	// The input's first 2 lines name the table and the chain, the next 3
	// are those every denylist starts with: rule 5000 is on line 5006.
	want := "line 5006 of the input: -A big -p icmp --icmp-type not-a-type -j ACCEPT"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "not-a-type") {
		t.Fatalf("wrong error\ngot:  %v\nwant: ...%s", err, want)
	}
	if after := l.save("iptables-save"); after != before {
		t.Errorf("a failed restore changed the table:\nbefore:\n%.2000s\nafter:\n%.2000s", before, after)
	}
}
