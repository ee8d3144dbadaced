package link_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/link"
	"github.com/vishvananda/netlink"
)

func requireTools(t testing.TB, tools ...string) { t.Helper(); systest.Require(t, tools...) }

// requireWires skips a test of wires on a kernel that cannot make them
// (no clsact, u32 or mirred): there links are bridges. A probe decides.
func requireWires(t *testing.T) {
	t.Helper()
	if err := labnet.ProbeMirred(); err != nil {
		t.Skipf("this kernel cannot make wires: %v", err)
	}
}

// netLab is a lab with the real container and link providers and a
// busybox rootfs.
type netLab struct{ *systest.Lab }

func newNetLab(t testing.TB) *netLab {
	requireTools(t, "runc", "busybox")
	l := &netLab{systest.NewLab(t, fmt.Sprintf("lflt%d", os.Getpid()%100000), container.New(), link.New())}
	systest.BusyboxRootfs(t, filepath.Join(l.Dir, "rootfs"), "sh", "sleep", "ping", "nc", "dd", "cat")
	t.Cleanup(func() {
		// Destroy through labform, then remove by name whatever is left.
		l.DestroyQuietly()
		root := container.RuntimeRoot(l.LabID())
		systest.RemoveRuncRoot(root)
		for _, a := range []string{"container.a", "container.b", "container.c"} {
			for slot := 0; slot < providers.Slots; slot++ {
				labnet.DeleteNetns(labnet.ContainerNetns(providers.ObjectID(l.LabID(), a, slot)))
			}
		}
		labnet.DeleteNetns(providers.LabNetns(l.Name))
	})
	return l
}

// plan plans the lab's normal mode.
func (l *netLab) plan() (*planner.Planner, *planner.Plan) {
	l.T.Helper()
	return l.Plan(planner.NormalMode)
}

// pid and netns of a container, from state.
func (l *netLab) container(addr string) (pid int, netns string) {
	rec, _ := l.Store.Get(addr)
	if rec == nil {
		l.T.Fatalf("%s is not in state", addr)
	}
	v, _, err := planner.DecodeRecord(l.Reg, rec.Type, rec.Provider, rec.Value)
	if err != nil {
		l.T.Fatal(err)
	}
	p, _ := v.GetAttr("pid").AsBigFloat().Int64()
	return int(p), v.GetAttr("netns").AsString()
}

// ping from a container's namespace (the host's ping is not installed; use
// busybox through ip netns exec): a reply to one of three pings, each
// given a second. Asking again covers a port whose carrier just came
// back, which the kernel finishes applying asynchronously.
func (l *netLab) ping(from, to string) bool {
	_, ns := l.container(from)
	for i := 0; i < 3; i++ {
		if exec.Command("ip", "netns", "exec", filepath.Base(ns), "busybox", "ping", "-c", "1", "-W", "1", to).Run() == nil {
			return true
		}
	}
	return false
}

func action(p *planner.Plan, addr string) string {
	for _, c := range p.Changes {
		if c.Addr.String() == addr {
			return string(c.Action)
		}
	}
	return "absent"
}

// containerHCL is a busybox container that sleeps, with the address that
// the HCL expression address gives on eth0.
func containerHCL(name, address string) string {
	return fmt.Sprintf(`
container %q {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  addresses = {
    eth0 = [%s]
  }
}
`, name, address)
}

// twoHosts are containers a and b on one subnet; hosts adds c.
var (
	twoHosts = containerHCL("a", `"10.203.0.1/24"`) + containerHCL("b", `"10.203.0.2/24"`)
	hosts    = twoHosts + containerHCL("c", `"10.203.0.3/24"`)
)

func TestSystem_links(t *testing.T) {
	requireWires(t)
	l := newNetLab(t)
	wire := func(state string, ends ...string) string {
		return hosts + fmt.Sprintf("link \"l\" {\n  endpoints = [%s]\n  state     = %q\n}\n", strings.Join(ends, ", "), state)
	}
	l.Write(wire("up", "container.a.port[0]", "container.b.port[0]"))
	l.Apply(planner.NormalMode)
	if !l.ping("container.a", "10.203.0.2") {
		t.Fatal("a cannot ping b over the link")
	}
	portOf := func(a string) string { return labnet.PortName(l.ID(a), 0) }
	if !wired(t, l, portOf("container.a"), portOf("container.b")) {
		t.Fatal("a link of two ports is not a wire")
	}
	if l.ping("container.a", "10.203.0.3") {
		t.Fatal("a can ping c, which is on no link")
	}
	pa, _ := l.container("container.a")
	pb, _ := l.container("container.b")
	pc, _ := l.container("container.c")
	samePids := func(when string) {
		t.Helper()
		for addr, want := range map[string]int{"container.a": pa, "container.b": pb, "container.c": pc} {
			if got, _ := l.container(addr); got != want {
				t.Fatalf("%s: %s was restarted (pid %d, was %d)", when, addr, got, want)
			}
		}
	}

	// Down: in place, the containers untouched, no traffic.
	l.Write(wire("down", "container.a.port[0]", "container.b.port[0]"))
	_, plan := l.plan()
	if action(plan, "link.l") != "update" || action(plan, "container.a") != "no-op" {
		t.Fatalf("setting the link down: link %s, container %s", action(plan, "link.l"), action(plan, "container.a"))
	}
	l.Apply(planner.NormalMode)
	if l.ping("container.a", "10.203.0.2") {
		t.Fatal("a still pings b over a link that is down")
	}
	samePids("link down")

	// Rewire a to c, with a smaller mtu: in place, same pids.
	l.Write(strings.Replace(wire("up", "container.a.port[0]", "container.c.port[0]"), "state     = \"up\"", "state     = \"up\"\n  mtu       = 1400", 1))
	l.Apply(planner.NormalMode)
	if mtu := portMTU(t, l, "container.c"); mtu != 1400 {
		t.Fatalf("c's port has mtu %d, want 1400", mtu)
	}
	if !l.ping("container.a", "10.203.0.3") || l.ping("container.a", "10.203.0.2") {
		t.Fatal("after rewiring, a must reach c and not b")
	}
	samePids("rewire")

	// A segment of three: everyone reaches everyone.
	l.Write(wire("up", "container.a.port[0]", "container.b.port[0]", "container.c.port[0]"))
	l.Apply(planner.NormalMode)
	for _, pair := range [][2]string{{"container.a", "10.203.0.2"}, {"container.a", "10.203.0.3"}, {"container.b", "10.203.0.3"}} {
		if !l.ping(pair[0], pair[1]) {
			t.Fatalf("segment: %s cannot reach %s", pair[0], pair[1])
		}
	}
	samePids("segment")

	// Drift made by hand in the lab namespace, each repaired by apply.
	h, ns, err := labnet.HandleIn(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	defer h.Close()
	bridgeOf := func() netlink.Link {
		links, _ := h.LinkList()
		for _, x := range links {
			if _, ok := x.(*netlink.Bridge); ok {
				return x
			}
		}
		t.Fatal("no bridge in the lab namespace")
		return nil
	}
	// Each break is seen as drift of the link alone, and apply repairs it
	// in place: b reaches c again, and no node restarts.
	repaired := func(breaks map[string]func()) {
		t.Helper()
		for name, breakIt := range breaks {
			breakIt()
			_, plan := l.plan()
			if len(plan.Drift) != 1 || action(plan, "link.l") == "no-op" {
				t.Fatalf("%s: drift %d, link %s", name, len(plan.Drift), action(plan, "link.l"))
			}
			l.Apply(planner.NormalMode)
			if !l.ping("container.b", "10.203.0.3") {
				t.Fatalf("%s: not repaired", name)
			}
			samePids(name)
		}
	}
	portB, _ := h.LinkByName(labnet.PortName(l.ID("container.b"), 0))
	repaired(map[string]func(){
		"port detached":  func() { h.LinkSetNoMaster(portB) },
		"link set down":  func() { h.LinkSetDown(bridgeOf()) },
		"bridge deleted": func() { h.LinkDel(bridgeOf()) },
	})

	// Back to two ports: a wire again, in place; the bridge goes.
	l.Write(wire("up", "container.b.port[0]", "container.c.port[0]"))
	l.Apply(planner.NormalMode)
	if !wired(t, l, portOf("container.b"), portOf("container.c")) || redirectedTo(t, l, portOf("container.a")) != "" {
		t.Fatal("the segment left with b and c is not a wire between them alone")
	}
	for name, x := range labLinks(t, l) {
		if _, ok := x.(*netlink.Bridge); ok {
			t.Fatalf("the segment's bridge %s is left after it became a wire", name)
		}
	}
	if !l.ping("container.b", "10.203.0.3") || l.ping("container.a", "10.203.0.2") {
		t.Fatal("after the segment became a wire, b must reach c and a nobody")
	}
	samePids("segment to wire")
	portC, _ := h.LinkByName(portOf("container.c"))
	repaired(map[string]func(){
		"redirect removed":     func() { labnet.Unredirect(h, portB) },
		"redirected elsewhere": func() { labnet.Redirect(h, portC, portB, 7, true) },
		"port set down":        func() { h.LinkSetDown(portC) },
	})

	// Destroy: no namespace, no interface left.
	l.Apply(planner.DestroyMode)
	if _, err := os.Stat(filepath.Join(labnet.Dir, providers.LabNetns(l.Name))); err == nil {
		t.Fatal("the lab namespace is left")
	}
	out, _ := exec.Command("ip", "-o", "link").Output()
	for _, prefix := range []string{"lfb", "lfp"} {
		if strings.Contains(string(out), prefix+" ") || strings.Contains(string(out), ": "+prefix) {
			t.Fatalf("an interface of the lab is left in the host namespace:\n%s", out)
		}
	}
}

func TestSystem_replacedContainerIsJoinedAgain(t *testing.T) {
	l := newNetLab(t)
	src := hosts + "link \"l\" {\n  endpoints = [container.a.port[0], container.b.port[0]]\n}\n"
	l.Write(src)
	l.Apply(planner.NormalMode)
	// a learns b's MAC address; the new b will have another.
	if !l.ping("container.a", "10.203.0.2") {
		t.Fatal("a cannot ping b over the link")
	}
	// Replace b (its rootfs path changes): the link must join b's new port,
	// and a must forget the old b's MAC address (else it sends there until
	// its neighbor entry expires, up to a minute).
	os.Symlink("rootfs", filepath.Join(l.Dir, "rootfs2"))
	l.Write(strings.Replace(src, "container \"b\" {\n  rootfs  = \"rootfs\"", "container \"b\" {\n  rootfs  = \"rootfs2\"", 1))
	_, plan := l.plan()
	if action(plan, "container.b") != "replace" || action(plan, "link.l") != "update" {
		t.Fatalf("replacing b: b %s, link %s", action(plan, "container.b"), action(plan, "link.l"))
	}
	l.Apply(planner.NormalMode)
	if !l.ping("container.a", "10.203.0.2") {
		lab, _ := exec.Command("sh", "-c", "ip -n "+providers.LabNetns(l.Name)+" -d link; for d in $(ip -n "+providers.LabNetns(l.Name)+" -o link | cut -d: -f2 | cut -d@ -f1); do tc -n "+providers.LabNetns(l.Name)+" filter show dev $d ingress; done").CombinedOutput()
		t.Fatalf("after b was replaced, the link does not reach it\n%s", lab)
	}
}

// TestSystem_portDeletedInsideContainerIsAddedBack: a port deleted by hand
// inside a container's namespace (the veth takes its lab side with it) is
// repaired in place: the container gets that one veth back, keeping its
// pid, and the link joins it again; nothing is replaced.
func TestSystem_portDeletedInsideContainerIsAddedBack(t *testing.T) {
	l := newNetLab(t)
	l.Write(hosts + "link \"l\" {\n  endpoints = [container.a.port[0], container.b.port[0]]\n}\n")
	l.Apply(planner.NormalMode)
	pid, ns := l.container("container.b")
	if out, err := exec.Command("ip", "netns", "exec", filepath.Base(ns), "ip", "link", "del", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if l.ping("container.a", "10.203.0.2") {
		t.Fatal("b still answers without its port: the test checks nothing")
	}
	_, plan := l.plan()
	if action(plan, "container.b") != "update" || action(plan, "link.l") != "update" {
		t.Fatalf("a port deleted inside b: b %s, link %s; want both updated in place", action(plan, "container.b"), action(plan, "link.l"))
	}
	l.Apply(planner.NormalMode)
	// b's port is a new veth with a new MAC: a's neighbour entry for b
	// takes a few seconds to go stale and be asked again.
	reached := false
	for i := 0; i < 5 && !reached; i++ {
		reached = l.ping("container.a", "10.203.0.2")
	}
	if !reached {
		addrs, _ := exec.Command("ip", "netns", "exec", filepath.Base(ns), "ip", "-br", "addr").CombinedOutput()
		lab, _ := exec.Command("ip", "netns", "exec", providers.LabNetns(l.Name), "ip", "-d", "-br", "link").CombinedOutput()
		t.Fatalf("after the repair, the link does not reach b\nb:\n%s\nlab:\n%s", addrs, lab)
	}
	if now, _ := l.container("container.b"); now != pid {
		t.Errorf("b was restarted (pid %d, was %d)", now, pid)
	}
	if _, plan := l.plan(); plan.HasChanges() {
		t.Error("not converged after the repair")
	}
}

func TestSystem_rateAndDelay(t *testing.T) {
	l := newNetLab(t)
	l.Write(hosts + `link "l" {
  endpoints = [container.a.port[0], container.b.port[0]]
  impairment {
    rate = "8mbit"
  }
}
`)
	l.Apply(planner.NormalMode)
	// 2 MB at 8 Mbit/s takes 2 s.
	_, nsB := l.container("container.b")
	_, nsA := l.container("container.a")
	// busybox nc does not close at the end of its input: the sender runs dd
	// with -e, so the connection ends when dd does. Both are bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listener := exec.CommandContext(ctx, "ip", "netns", "exec", filepath.Base(nsB), "busybox", "nc", "-l", "-p", "5001")
	sink, _ := os.Create(filepath.Join(l.Dir, "sink"))
	defer sink.Close()
	listener.Stdout = sink
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	sender := exec.CommandContext(ctx, "ip", "netns", "exec", filepath.Base(nsA), "busybox", "nc", "10.203.0.2", "5001",
		"-e", "busybox", "dd", "if=/dev/zero", "bs=1024", "count=2048")
	start := time.Now()
	if err := sender.Run(); err != nil {
		t.Fatalf("sending: %v", err)
	}
	if err := listener.Wait(); err != nil {
		t.Fatalf("receiving: %v", err)
	}
	elapsed := time.Since(start)
	got, _ := os.Stat(filepath.Join(l.Dir, "sink"))
	if got == nil || got.Size() != 2<<20 {
		t.Fatalf("the receiver got %v bytes", got)
	}
	t.Logf("2 MiB at 8mbit took %v (2.1 s expected)", elapsed)
	// 2 MiB = 16.8 Mbit: 2.1 s at 8 Mbit/s, within 20 %.
	if elapsed < 1680*time.Millisecond || elapsed > 2520*time.Millisecond {
		t.Fatalf("2 MiB at 8mbit took %v, want 2.1 s within 20%%", elapsed)
	}

	// A qdisc changed by hand is drift; apply puts the 8mbit back.
	port := labnet.PortName(l.ID("container.b"), 0)
	if out, err := exec.Command("tc", "-n", providers.LabNetns(l.Name), "qdisc", "replace", "dev", port, "root", "handle", "1:",
		"tbf", "rate", "1mbit", "burst", "10k", "latency", "50ms").CombinedOutput(); err != nil {
		t.Fatalf("tc: %v: %s", err, out)
	}
	_, plan := l.plan()
	if len(plan.Drift) != 1 || action(plan, "link.l") != "update" {
		t.Fatalf("a qdisc changed by hand: drift %d, link %s", len(plan.Drift), action(plan, "link.l"))
	}
	l.Apply(planner.NormalMode)
	if out, _ := exec.Command("tc", "-n", providers.LabNetns(l.Name), "qdisc", "show", "dev", port).CombinedOutput(); !strings.Contains(string(out), "rate 8Mbit") {
		t.Fatalf("the shaping was not repaired:\n%s", out)
	}

	// Delay needs netem: refused at plan time where the kernel lacks it.
	l.Write(hosts + `link "l" {
  endpoints = [container.a.port[0], container.b.port[0]]
  impairment {
    delay = "50ms"
  }
}
`)
	lab, diags := config.Load(l.Dir, l.Reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p := &planner.Planner{Registry: l.Reg, Store: l.Store, Lab: lab, Inputs: config.NewInputs()}
	_, diags = p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true})
	if diags.HasErrors() {
		if !strings.Contains(diags.Error(), "Impairment not supported by this kernel") || !strings.Contains(diags[0].Detail, "netem") {
			t.Fatalf("want a plan-time diagnostic naming netem, got %v", diags)
		}
		t.Logf("no netem on this kernel: the delay was refused at plan time (%s), so the 50 ms round-trip check did not run", diags[0].Detail)
		return
	}
	l.Apply(planner.NormalMode)
	start = time.Now()
	if !l.ping("container.a", "10.203.0.2") {
		t.Fatal("no ping with delay")
	}
	if rtt := time.Since(start); rtt < 90*time.Millisecond || rtt > 160*time.Millisecond {
		t.Fatalf("a 50 ms delay each way gave a %v round trip, want about 100 ms", rtt)
	}
}

func parseTarget(s string) ([]addr.Target, error) {
	t, err := addr.ParseTarget(s)
	return []addr.Target{t}, err
}

func portMTU(t *testing.T, l *netLab, node string) int {
	h, ns, err := labnet.HandleIn(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	defer h.Close()
	p, err := h.LinkByName(labnet.PortName(l.ID(node), 0))
	if err != nil {
		t.Fatal(err)
	}
	return p.Attrs().MTU
}

// TestSystem_createBeforeDestroy replaces a container and a link with
// create_before_destroy: the new object is made, under names of its own,
// while the old one still runs; then the old one goes. Traffic flows
// across the new objects, nothing of the old ones is left, and the next
// plan is empty.
func TestSystem_createBeforeDestroy(t *testing.T) {
	requireWires(t)
	l := newNetLab(t)
	lab := func(cmd string) string {
		return `
container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  addresses = { eth0 = ["10.204.0.1/24"] }
}
container "b" {
  rootfs  = "rootfs"
  command = ["sleep", "` + cmd + `"]
  addresses = { eth0 = ["10.204.0.2/24"] }
  lifecycle {
    create_before_destroy = true
  }
}
link "l" {
  endpoints = [container.a.port[0], container.b.port[0]]
  impairment {
    rate = "20mbit"
  }
  lifecycle {
    create_before_destroy = true
  }
}
`
	}
	l.Write(lab("3600"))
	l.Apply(planner.NormalMode)
	if !l.ping("container.a", "10.204.0.2") {
		t.Fatal("a cannot ping b before the replacement")
	}
	oldB, _ := l.container("container.b")
	oldID := l.ID("container.b")

	l.Write(lab("3601"))
	_, plan := l.plan()
	if got := action(plan, "container.b"); got != string(planner.CreateThenDelete) {
		t.Fatalf("container.b: %s, want create-then-delete", got)
	}
	l.Apply(planner.NormalMode)
	newID := l.ID("container.b")
	if newID == oldID {
		t.Fatalf("the new container has the old one's ID %s", oldID)
	}
	if pid, _ := l.container("container.b"); pid == oldB || pid == 0 {
		t.Fatalf("container.b's pid %d: want a new process (old %d)", pid, oldB)
	}
	if _, err := os.Stat(filepath.Join(labnet.Dir, labnet.ContainerNetns(oldID))); err == nil {
		t.Fatalf("the old container's namespace %s is left", labnet.ContainerNetns(oldID))
	}
	// a's neighbour entry still names the old b's MAC: it is dropped, as
	// a router's would age out, before pinging the new b.
	_, nsA := l.container("container.a")
	exec.Command("ip", "-n", filepath.Base(nsA), "neigh", "flush", "all").Run()
	if !l.ping("container.a", "10.204.0.2") {
		t.Fatal("a cannot ping the new b")
	}
	if _, plan := l.plan(); plan.HasChanges() {
		t.Fatalf("plan after the replacement is not empty: %s=%s", "container.b", action(plan, "container.b"))
	}

	// The link itself, replaced with -replace: the new wire takes the
	// ports, keeping their shaping; the old one's delete leaves them to it.
	plan = l.ApplyReplacing(planner.NormalMode, "link.l")
	if got := action(plan, "link.l"); got != string(planner.CreateThenDelete) {
		t.Fatalf("link.l: %s, want create-then-delete", got)
	}
	h, ns, err := labnet.HandleIn(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	defer h.Close()
	port, err := h.LinkByName(labnet.PortName(l.ID("container.b"), 0))
	if err != nil {
		t.Fatal(err)
	}
	if !wired(t, l, labnet.PortName(l.ID("container.a"), 0), port.Attrs().Name) {
		t.Fatal("after the link's replacement, a's and b's ports are not wired to each other")
	}
	if qs, _ := h.QdiscList(port); len(qs) == 0 || qs[0].Type() != "tbf" {
		t.Fatalf("b's port lost its shaping: %v", qs)
	}
	if !l.ping("container.a", "10.204.0.2") {
		t.Fatal("a cannot ping b across the new wire")
	}
	if _, plan := l.plan(); plan.HasChanges() {
		t.Fatal("plan after replacing the link is not empty")
	}
}

// TestSystem_renameKeepsTheObject: an instance moved to a new address in
// state (labform state mv) keeps its object ID, so its host names stay:
// the renamed container is not rebuilt, and the link that now names it
// finds the same port.
func TestSystem_renameKeepsTheObject(t *testing.T) {
	l := newNetLab(t)
	lab := func(name string) string {
		return containerHCL("a", `"10.205.0.1/24"`) + containerHCL(name, `"10.205.0.2/24"`) + fmt.Sprintf(`
link "l" {
  endpoints = [container.a.port[0], container.%s.port[0]]
}
`, name)
	}
	l.Write(lab("b"))
	l.Apply(planner.NormalMode)
	pid, _ := l.container("container.b")
	rec, _ := l.Store.Get("container.b")
	rec.Addr = "container.c"
	if err := l.Store.Put(rec); err != nil {
		t.Fatal(err)
	}
	if err := l.Store.Delete("container.b"); err != nil {
		t.Fatal(err)
	}
	l.Write(lab("c"))
	_, plan := l.plan()
	if got := action(plan, "container.c"); got != string(planner.NoOp) {
		t.Fatalf("the renamed container: %s, want no change", got)
	}
	l.Apply(planner.NormalMode)
	if now, _ := l.container("container.c"); now != pid {
		t.Fatalf("the renamed container was rebuilt: pid %d -> %d", pid, now)
	}
	if !l.ping("container.a", "10.205.0.2") {
		t.Fatal("a cannot ping the renamed container")
	}
	if _, plan := l.plan(); plan.HasChanges() {
		t.Fatal("not converged after the rename")
	}
}

// carrier reads eth0's flags inside a container's namespace, as `ip link
// show eth0` run in the node prints them.
func (l *netLab) carrier(node string) (bool, string) {
	_, ns := l.container(node)
	out, err := exec.Command("ip", "-n", filepath.Base(ns), "link", "show", "eth0").CombinedOutput()
	if err != nil {
		l.T.Fatalf("ip link show eth0 in %s: %v: %s", node, err, out)
	}
	return !strings.Contains(string(out), "NO-CARRIER"), string(out)
}

// waitCarrier waits up to 100 ms after an apply for a node's eth0 to have
// (or lose) carrier. The first look always happens, however long starting
// ip takes on a loaded machine: the kernel changes carrier synchronously.
func (l *netLab) waitCarrier(node string, want bool, since time.Time) {
	l.T.Helper()
	for {
		got, out := l.carrier(node)
		if got == want {
			return
		}
		if time.Since(since) > 100*time.Millisecond {
			l.T.Fatalf("%s's eth0 carrier = %v %v after the apply, want %v:\n%s", node, got, time.Since(since), want, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSystem_linkDownPullsTheCable: a link set down takes carrier from
// the nodes' interfaces (NO-CARRIER inside the node) at once, as a pulled
// cable does; up gives it back; a drift of a port set up by hand is seen;
// deleting the link pulls the cable too.
func TestSystem_linkDownPullsTheCable(t *testing.T) {
	l := newNetLab(t)
	wire := func(state string) string {
		return hosts + fmt.Sprintf("link \"l\" {\n  endpoints = [container.a.port[0], container.b.port[0]]\n  state     = %q\n}\n", state)
	}
	l.Write(wire("up"))
	l.Apply(planner.NormalMode)
	l.waitCarrier("container.a", true, time.Now())
	l.waitCarrier("container.b", true, time.Now())

	l.Write(wire("down"))
	l.Apply(planner.NormalMode)
	done := time.Now()
	l.waitCarrier("container.a", false, done)
	l.waitCarrier("container.b", false, done)
	if _, plan := l.plan(); action(plan, "link.l") != "no-op" || len(plan.Drift) != 0 {
		t.Fatalf("a link that is down plans %s with %d drift", action(plan, "link.l"), len(plan.Drift))
	}

	// A port set up by hand gives its node carrier: drift, repaired.
	h, ns, err := labnet.HandleIn(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	defer h.Close()
	portA, err := h.LinkByName(labnet.PortName(l.ID("container.a"), 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(portA); err != nil {
		t.Fatal(err)
	}
	if _, plan := l.plan(); action(plan, "link.l") != "update" || len(plan.Drift) != 1 {
		t.Fatalf("a port set up by hand: link %s, drift %d", action(plan, "link.l"), len(plan.Drift))
	}
	l.Apply(planner.NormalMode)
	l.waitCarrier("container.a", false, time.Now())

	l.Write(wire("up"))
	l.Apply(planner.NormalMode)
	done = time.Now()
	l.waitCarrier("container.a", true, done)
	l.waitCarrier("container.b", true, done)
	if !l.ping("container.a", "10.203.0.2") {
		t.Fatal("a cannot ping b once the link is up again")
	}

	// Deleting the link pulls the cable before the bridge goes.
	l.Write(hosts)
	l.Apply(planner.NormalMode)
	done = time.Now()
	l.waitCarrier("container.a", false, done)
	l.waitCarrier("container.b", false, done)
}
