package link

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
)

// portLab is a lab namespace with one lab-side port per node (a veth
// whose other end stays in the namespace, up) and the link provider on
// it, driven action by action as the engine would.
type portLab struct {
	t   *testing.T
	p   *Provider
	h   *netlink.Handle
	ids map[string]string
	ty  cty.Type
}

func newPortLab(t *testing.T, nodes ...string) *portLab {
	systest.Require(t)
	if err := labnet.ProbeMirred(); err != nil {
		t.Skipf("this kernel cannot make wires: %v", err)
	}
	name := fmt.Sprintf("lfpt%d%s", os.Getpid()%100000, t.Name()[len(t.Name())-3:])
	l := &portLab{t: t, ids: map[string]string{}, ty: New().Schemas()["link"].Block.ImpliedType()}
	lab := providers.Lab{Name: name, Dir: t.TempDir(), IDOf: func(a string) string { return l.ids[a] }}
	ns := providers.LabNetns(name)
	if err := labnet.CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { labnet.DeleteNetns(ns) })
	h, nsh, err := labnet.HandleIn(ns)
	if err != nil {
		t.Fatal(err)
	}
	nsh.Close()
	t.Cleanup(h.Close)
	l.h = h
	for i, n := range nodes {
		l.ids[n] = fmt.Sprintf("%02x%014x", i+0x10, i)
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: labnet.PortName(l.ids[n], 0)}, PeerName: fmt.Sprintf("in%d", i)}); err != nil {
			t.Fatal(err)
		}
		in, _ := h.LinkByName(fmt.Sprintf("in%d", i))
		h.LinkSetUp(in)
	}
	l.p = New()
	if err := l.p.Configure(context.Background(), providers.ConfigureRequest{Lab: lab}); err != nil {
		t.Fatal(err)
	}
	return l
}

// val is a link's value joining port 0 of the nodes, shaped at rate
// ("" for none).
func (l *portLab) val(rate string, nodes ...string) cty.Value {
	var eps []cty.Value
	for _, n := range nodes {
		eps = append(eps, providers.EndpointVal(n, 0))
	}
	imp := cty.NullVal(l.ty.AttributeType("impairment"))
	if rate != "" {
		m := map[string]cty.Value{}
		for name := range l.ty.AttributeType("impairment").AttributeTypes() {
			m[name] = cty.NullVal(cty.String)
		}
		m["rate"] = cty.StringVal(rate)
		imp = cty.ObjectVal(m)
	}
	return cty.ObjectVal(map[string]cty.Value{"endpoints": cty.ListVal(eps), "mtu": cty.NumberIntVal(1500), "state": cty.StringVal("up"), "impairment": imp})
}

func (l *portLab) port(node string) netlink.Link {
	x, err := l.h.LinkByName(labnet.PortName(l.ids[node], 0))
	if err != nil {
		l.t.Fatal(err)
	}
	return x
}

// unplugged tells whether a node's port is off every link: down, on no
// bridge, with no redirect and no shaping.
func (l *portLab) unplugged(node string) bool {
	x := l.port(node)
	_, tag, _, _ := labnet.Redirected(l.h, x)
	qs, _ := l.h.QdiscList(x)
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Type() == "tbf" {
			return false
		}
	}
	return x.Attrs().Flags&net.FlagUp == 0 && x.Attrs().MasterIndex == 0 && tag == 0
}

func (l *portLab) reads(addr, id string, want cty.Value, priv []byte) bool {
	r, err := l.p.Read(context.Background(), providers.ReadRequest{Type: "link", Addr: addr, ID: id, Prior: want, Private: priv})
	return err == nil && r.State.RawEquals(want)
}

// TestSystem_linksSharingPortsAtOnce: two links applied at the same
// moment hand a port from one to the other (the engine orders nothing
// between them), and a link renamed without a moved block is deleted and
// made again at once on the same ports: whatever order their steps
// interleave in, each ends as planned.
func TestSystem_linksSharingPortsAtOnce(t *testing.T) {
	l := newPortLab(t, "n.a", "n.p", "n.q", "n.b", "n.c")
	ctx := context.Background()
	for k := 0; k < 20; k++ {
		id1, id2 := fmt.Sprintf("1%03x000000000a1", k), fmt.Sprintf("2%03x000000000b2", k)
		w1a, w1b := l.val("", "n.a", "n.p"), l.val("", "n.a", "n.q")
		w2a, w2b := l.val("", "n.b", "n.c"), l.val("", "n.b", "n.p")
		r1, err := l.p.Create(ctx, providers.ApplyRequest{Type: "link", Addr: "link.w1", ID: id1, Planned: w1a})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := l.p.Create(ctx, providers.ApplyRequest{Type: "link", Addr: "link.w2", ID: id2, Planned: w2a})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var e1, e2 error
		wg.Add(2)
		go func() {
			defer wg.Done()
			r1, e1 = l.p.Update(ctx, providers.ApplyRequest{Type: "link", Addr: "link.w1", ID: id1, Prior: w1a, Planned: w1b, Private: r1.Private})
		}()
		go func() {
			defer wg.Done()
			r2, e2 = l.p.Update(ctx, providers.ApplyRequest{Type: "link", Addr: "link.w2", ID: id2, Prior: w2a, Planned: w2b, Private: r2.Private})
		}()
		wg.Wait()
		if e1 != nil || e2 != nil {
			t.Fatalf("round %d: %v / %v", k, e1, e2)
		}
		if !l.reads("link.w1", id1, w1b, r1.Private) || !l.reads("link.w2", id2, w2b, r2.Private) {
			t.Fatalf("round %d: after a port changed hands, a link does not read as planned", k)
		}
		if !l.unplugged("n.c") {
			t.Fatalf("round %d: n.c left link.w2 but is still plugged", k)
		}

		// link.w2 renamed link.w3 without a moved block: one deleted and
		// one made, on the same ports, at once.
		id3 := fmt.Sprintf("3%03x000000000c3", k)
		var r3 providers.ApplyResponse
		wg.Add(2)
		go func() {
			defer wg.Done()
			e1 = l.p.Delete(ctx, providers.ApplyRequest{Type: "link", Addr: "link.w2", ID: id2, Prior: w2b, Private: r2.Private})
		}()
		go func() {
			defer wg.Done()
			r3, e2 = l.p.Create(ctx, providers.ApplyRequest{Type: "link", Addr: "link.w3", ID: id3, Planned: w2b})
		}()
		wg.Wait()
		if e1 != nil || e2 != nil {
			t.Fatalf("round %d: rename: %v / %v", k, e1, e2)
		}
		if !l.reads("link.w3", id3, w2b, r3.Private) {
			t.Fatalf("round %d: the renamed link does not read as planned", k)
		}
		for _, x := range []struct {
			addr, id string
			v        cty.Value
			priv     []byte
		}{{"link.w1", id1, w1b, r1.Private}, {"link.w3", id3, w2b, r3.Private}} {
			if err := l.p.Delete(ctx, providers.ApplyRequest{Type: "link", Addr: x.addr, ID: x.id, Prior: x.v, Private: x.priv}); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []string{"n.a", "n.p", "n.q", "n.b", "n.c"} {
			if !l.unplugged(n) {
				t.Fatalf("round %d: after every link was deleted, %s is still plugged", k, n)
			}
		}
	}
}

// TestSystem_portsLeavingAreUnplugged: whichever way a link changes kind,
// a port it lets go is left as a deleted link leaves it: down (its node
// sees no carrier), unshaped, on no bridge and not redirected.
func TestSystem_portsLeavingAreUnplugged(t *testing.T) {
	l := newPortLab(t, "n.a", "n.b", "n.c")
	ctx := context.Background()
	const id = "5e9f3a2b00000001"
	seg, wire, other := l.val("8mbit", "n.a", "n.b", "n.c"), l.val("8mbit", "n.a", "n.b"), l.val("8mbit", "n.a", "n.c")
	r, err := l.p.Create(ctx, providers.ApplyRequest{Type: "link", Addr: "link.l", ID: id, Planned: seg})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		from, to    cty.Value
		leaves      string
		wantBridge  bool
		wantPrivate bool
	}{
		{"segment to wire", seg, wire, "n.c", false, true},
		{"wire rewired", wire, other, "n.b", false, true},
		{"wire to segment", other, seg, "", true, false},
		{"segment to wire again", seg, wire, "n.c", false, true},
	}
	for _, s := range steps {
		r, err = l.p.Update(ctx, providers.ApplyRequest{Type: "link", Addr: "link.l", ID: id, Prior: s.from, Planned: s.to, Private: r.Private})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.leaves != "" && !l.unplugged(s.leaves) {
			t.Fatalf("%s: %s left the link but is still plugged", s.name, s.leaves)
		}
		_, err := l.h.LinkByName(bridgeName(id))
		if (err == nil) != s.wantBridge {
			t.Fatalf("%s: bridge present %v, want %v", s.name, err == nil, s.wantBridge)
		}
		if privateOf(r.Private).Wire != s.wantPrivate {
			t.Fatalf("%s: recorded as a wire: %v", s.name, !s.wantPrivate)
		}
		if !l.reads("link.l", id, s.to, r.Private) {
			t.Fatalf("%s: the link does not read as planned", s.name)
		}
	}
	// A wire whose peer port is gone (its node's port deleted by hand)
	// reads with neither end; its delete still unplugs the port left.
	l.h.LinkDel(l.port("n.b"))
	got, err := l.p.Read(ctx, providers.ReadRequest{Type: "link", Addr: "link.l", ID: id, Prior: wire, Private: r.Private})
	if err != nil || got.State.IsNull() || got.State.GetAttr("endpoints").LengthInt() != 0 {
		t.Fatalf("a wire without its peer port reads as %#v (%v), want no endpoints", got.State, err)
	}
	if err := l.p.Delete(ctx, providers.ApplyRequest{Type: "link", Addr: "link.l", ID: id, Prior: got.State, Private: r.Private}); err != nil {
		t.Fatal(err)
	}
	if !l.unplugged("n.a") {
		t.Fatal("deleting a wire whose peer port was gone left the other port plugged")
	}
}
