package link_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/netfilter"
	"github.com/vishvananda/netlink"
)

const chainOfThree = `
container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}
container "b" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 2
}
container "c" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}
container "d" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}
link "ab" {
  endpoints = [container.a.port[0], container.b.port[0]]
}
link "bc" {
  endpoints = [container.b.port[1], container.c.port[0], container.d.port[0]]
}
`

// labLinks lists the lab namespace's interfaces by name (nil once the
// namespace is gone).
func labLinks(t *testing.T, l *netLab) map[string]netlink.Link {
	t.Helper()
	if _, err := os.Stat(filepath.Join(labnet.Dir, providers.LabNetns(l.Name))); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	h, ns, err := labnet.HandleIn(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]netlink.Link{}
	for _, x := range links {
		out[x.Attrs().Name] = x
	}
	return out
}

// destroyTargets destroys the given addresses only, as -target does.
func destroyTargets(t *testing.T, l *netLab, target string) {
	t.Helper()
	lab, diags := config.Load(l.Dir, l.Reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	tg, err := parseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &planner.Planner{Registry: l.Reg, Store: l.Store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 4}
	plan, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.DestroyMode, Refresh: true, Targets: tg})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if diags.HasErrors() || res.Err() != nil {
		t.Fatalf("destroy -target %s: %v %v", target, diags, res.Err())
	}
}

// TestSystem_teardown: a partial destroy removes exactly what it names, at
// once (a wire's redirects, a segment's bridge), and leaves nothing doomed
// behind; a whole-lab destroy removes the
// namespaces, and the kernel everything in them; what an interrupted
// whole-lab destroy left marked doomed is deleted by the next run.
func TestSystem_teardown(t *testing.T) {
	requireWires(t)
	l := newNetLab(t)
	l.Write(chainOfThree)
	l.Apply(planner.NormalMode)
	bridge := func(a string) string { return bridgeOf(l, a) }
	port := func(a string, n int) string { return labnet.PortName(l.ID(a), n) }
	ctrNetns := func(a string) string { return filepath.Join(labnet.Dir, labnet.ContainerNetns(l.ID(a))) }
	cNetns := ctrNetns("container.c")
	for _, name := range []string{bridge("link.bc"), port("container.a", 0), port("container.b", 0), port("container.b", 1), port("container.c", 0)} {
		if labLinks(t, l)[name] == nil {
			t.Fatalf("after apply, %s is missing from the lab namespace", name)
		}
	}
	if labLinks(t, l)[bridge("link.ab")] != nil || !wired(t, l, port("container.a", 0), port("container.b", 0)) {
		t.Fatal("after apply, link.ab (two ports) is not a wire")
	}
	noneDoomed := func(when string) {
		t.Helper()
		for name, x := range labLinks(t, l) {
			if x.Attrs().Group == labnet.DoomedGroup {
				t.Fatalf("%s: %s is left doomed in the lab namespace", when, name)
			}
		}
	}

	// One link: its redirects are gone when destroy returns; its ports
	// stay, unplugged; the other link is untouched.
	destroyTargets(t, l, "link.ab")
	links := labLinks(t, l)
	for _, n := range []string{port("container.a", 0), port("container.b", 0)} {
		if links[n] == nil || links[n].Attrs().Flags&net.FlagUp != 0 || redirectedTo(t, l, n) != "" {
			t.Fatalf("after destroying link.ab, its port %s is gone, still up or still wired", n)
		}
	}
	if bc := links[bridge("link.bc")]; bc == nil || links[port("container.c", 0)].Attrs().MasterIndex != bc.Attrs().Index {
		t.Fatal("destroying link.ab touched link.bc")
	}
	noneDoomed("after destroying link.ab")

	// One node: its link goes with it (it depends on the node), its ports
	// and namespace are gone when destroy returns; the others stay.
	destroyTargets(t, l, "container.c")
	links = labLinks(t, l)
	for _, n := range []string{bridge("link.bc"), port("container.c", 0)} {
		if links[n] != nil {
			t.Fatalf("destroy -target container.c left %s", n)
		}
	}
	if _, err := os.Stat(cNetns); err == nil {
		t.Fatal("destroy -target container.c left its namespace")
	}
	for _, n := range []string{port("container.a", 0), port("container.b", 0), port("container.b", 1)} {
		if links[n] == nil {
			t.Fatalf("destroying container.c took %s with it", n)
		}
	}
	noneDoomed("after destroying container.c")

	// An interrupted whole-lab destroy leaves interfaces marked doomed:
	// the next plan's refresh of the links deletes them.
	if err := labnet.Doom(providers.LabNetns(l.Name), port("container.b", 1)); err != nil {
		t.Fatal(err)
	}
	l.Plan(planner.NormalMode)
	if labLinks(t, l)[port("container.b", 1)] != nil {
		t.Fatal("a doomed interface outlived the next run")
	}

	// The whole lab: namespaces gone, and once the kernel has finished,
	// nothing of the lab in the host's namespace either.
	l.Write(chainOfThree)
	l.Apply(planner.NormalMode) // c and the links back, b's port 1 repaired
	var netnses []string
	for _, a := range []string{"container.a", "container.b", "container.c"} {
		netnses = append(netnses, ctrNetns(a))
	}
	p, plan := l.Plan(planner.DestroyMode)
	// A witness (made after the plan, whose configure deletes doomed
	// interfaces): a doomed veth in the lab namespace whose peer is in a
	// namespace of the test's. The peer goes only when the kernel frees
	// the lab namespace: nothing (a cached netlink handle) may keep it.
	witness := "lfw" + l.Name
	labnet.CreateNetns(witness)
	t.Cleanup(func() { labnet.DeleteNetns(witness) })
	wh, wns, err := labnet.HandleIn(witness)
	if err != nil {
		t.Fatal(err)
	}
	defer wns.Close()
	defer wh.Close()
	lh, lns, err := labnet.HandleIn(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	err = lh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lfwit0", Group: labnet.DoomedGroup}, PeerName: "lfwit1", PeerNamespace: netlink.NsFd(int(wns))})
	lh.Close()
	lns.Close()
	if err != nil {
		t.Fatal(err)
	}
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if diags.HasErrors() || res.Err() != nil {
		t.Fatalf("destroy: %v %v", diags, res.Err())
	}
	for _, ns := range append(netnses, filepath.Join(labnet.Dir, providers.LabNetns(l.Name))) {
		if _, err := os.Stat(ns); err == nil {
			t.Fatalf("destroy left the namespace %s", ns)
		}
	}
	if _, err := os.Stat(container.RuntimeRoot(l.LabID())); err == nil {
		t.Fatal("destroy left the runtime's root directory")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := wh.LinkByName("lfwit1"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("10 s after destroy, the lab namespace is still alive (its witness veth is there)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSystem_teardownWithHeldLab: a firewall chain with target = lab holds
// the lab namespace, so a whole-lab destroy cannot remove it at the first
// link's delete; the links are doomed, and the chain's delete, which
// releases the hold, removes the namespace. Nothing is left: no
// namespace, no hold.
func TestSystem_teardownWithHeldLab(t *testing.T) {
	requireWires(t)
	requireTools(t, "runc", "busybox", "iptables-save", "iptables-restore")
	l := newNetLab(t)
	l.Reg.Register(netfilter.New())
	l.Write(chainOfThree + `
firewall_chain "fw" {
  target = lab
  hooks  = ["FORWARD"]
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
}
`)
	l.Apply(planner.NormalMode)
	out, err := exec.Command("ip", "netns", "exec", providers.LabNetns(l.Name), "iptables-save").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-A FORWARD -j fw") {
		t.Fatalf("after apply, the lab namespace has no chain fw hooked from FORWARD (%v):\n%s", err, out)
	}
	if links := labLinks(t, l); links[bridgeOf(l, "link.bc")] == nil || !wired(t, l, labnet.PortName(l.ID("container.a"), 0), labnet.PortName(l.ID("container.b"), 0)) {
		t.Fatal("after apply, link.bc's bridge or link.ab's wire is missing")
	}
	holds := filepath.Join(labnet.HoldsDir, providers.LabNetns(l.Name))
	if entries, _ := os.ReadDir(holds); len(entries) != 1 {
		t.Fatalf("after apply, %d holds on the lab namespace, want the chain's", len(entries))
	}
	l.Apply(planner.DestroyMode)
	if _, err := os.Stat(filepath.Join(labnet.Dir, providers.LabNetns(l.Name))); err == nil {
		t.Fatal("destroy left the lab namespace")
	}
	if _, err := os.Stat(holds); err == nil {
		t.Fatal("destroy left the lab's hold directory")
	}
}

// bridgeOf is the name of a link's bridge, from its object ID.
func bridgeOf(l *netLab, a string) string { return "lfb" + l.ID(a)[:12] }

// redirectedTo is the interface of the lab namespace the ingress of port
// is redirected to: "" when it is not.
func redirectedTo(t *testing.T, l *netLab, port string) string {
	t.Helper()
	h, ns, err := labnet.HandleIn(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	defer h.Close()
	p, err := h.LinkByName(port)
	if err != nil {
		t.Fatalf("port %s: %v", port, err)
	}
	to, tag, _, err := labnet.Redirected(h, p)
	if err != nil {
		t.Fatal(err)
	}
	if tag == 0 {
		return ""
	}
	x, err := h.LinkByIndex(to)
	if err != nil {
		return fmt.Sprintf("ifindex %d (gone)", to)
	}
	return x.Attrs().Name
}

// wired tells whether ports a and b of the lab namespace make a wire: each
// redirected to the other, and on no bridge.
func wired(t *testing.T, l *netLab, a, b string) bool {
	t.Helper()
	links := labLinks(t, l)
	return redirectedTo(t, l, a) == b && redirectedTo(t, l, b) == a && links[a].Attrs().MasterIndex == 0 && links[b].Attrs().MasterIndex == 0
}
