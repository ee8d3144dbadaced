package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"syscall"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
)

// Configure keeps the lab the links belong to. It also finishes what an
// interrupted destroy of the whole lab left: the interfaces that destroy
// marked doomed (labnet.DoomedGroup) are removed here in one batch, so
// that a lab applied again does not meet its old bridges' names.
func (p *Provider) Configure(_ context.Context, req providers.ConfigureRequest) error {
	p.lab = req.Lab
	// What an interrupted destroy of the whole lab marked doomed goes
	// first, in one batch.
	return labnet.Reap(p.labNetns())
}

// labNetns is the namespace every bridge and port of the lab lives in:
// the links never touch the host's own namespace.
func (p *Provider) labNetns() string { return providers.LabNetns(p.lab.Name) }

// bridgeName is the bridge of the link of the given object ID: 15
// characters. A create_before_destroy's new link has a bridge of its own.
func bridgeName(id string) string { return "lfb" + id[:12] }

// private is what labform records about a link: the bridge of an
// imported link, which has the name it was made with.
type private struct {
	Bridge string `json:"bridge,omitempty"`
	// Tunnel is set on a host's half of a link across hosts (tunnel.go).
	Tunnel *Tunnel `json:"tunnel,omitempty"`
	// Wire is set on a link made as a wire, without a bridge (wire.go).
	Wire bool `json:"wire,omitempty"`
	// Ends are a wire's ports as last applied: its update and delete find
	// them even when a refresh no longer shows them (a peer port gone).
	Ends []end `json:"ends,omitempty"`
}

// end is an endpoint as private data records it.
type end struct {
	Node string `json:"node"`
	Port int    `json:"port"`
}

// endsOf converts between the two forms of endpoints.
func endsOf(eps []endpoint) []end {
	out := make([]end, len(eps))
	for i, e := range eps {
		out[i] = end{e.node, e.port}
	}
	return out
}

func (pv private) endpoints() []endpoint {
	out := make([]endpoint, len(pv.Ends))
	for i, e := range pv.Ends {
		out[i] = endpoint{e.Node, e.Port}
	}
	return out
}

// privateOf decodes a link's private data; none reads as a bridge named
// after the link's ID.
func privateOf(priv []byte) private {
	var pv private
	if len(priv) > 0 {
		json.Unmarshal(priv, &pv)
	}
	return pv
}

// bridgeOf is the link's bridge: the recorded one, or the one its ID
// names.
func (p *Provider) bridgeOf(id, address string, priv []byte) string {
	if pv := privateOf(priv); pv.Bridge != "" {
		return pv.Bridge
	}
	return bridgeName(p.lab.IDFor(id, address))
}

// endpoint is one end of a link as its value records it: a node's
// address (not its ID: the port's host name comes from the ID, looked up
// in portName) and a port number.
type endpoint struct {
	node string
	port int
}

// endpoints are the ends of a link value that are known. An end not yet
// known (a node planned but not created) is left out rather than failing:
// plan values hold unknowns, and the apply that follows knows them.
func endpoints(v cty.Value) []endpoint {
	var out []endpoint
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return nil
	}
	e := v.GetAttr("endpoints")
	if e.IsNull() || !e.IsKnown() {
		return nil
	}
	for _, x := range e.AsValueSlice() {
		if !x.IsWhollyKnown() {
			continue
		}
		n, _ := x.GetAttr("port").AsBigFloat().Int64()
		out = append(out, endpoint{x.GetAttr("node").AsString(), int(n)})
	}
	return out
}

// portName is the lab-side interface of an endpoint's port. It derives
// from the node's object ID, so a renamed node (moved block) keeps its
// ports and the link stays wired.
func (p *Provider) portName(e endpoint) string { return labnet.PortName(p.lab.Object(e.node), e.port) }

// intAttr reads a number attribute; null or unknown reads as 0, which
// the callers treat as "not set" (plan values may hold unknowns).
func intAttr(v cty.Value, name string) int {
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return 0
	}
	n, _ := a.AsBigFloat().Int64()
	return int(n)
}

var strAttr = providers.String

// Create makes the wire, or the bridge, and joins the endpoints' ports.
func (p *Provider) Create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	id := p.lab.IDFor(req.ID, req.Addr)
	return p.apply(cty.NilVal, id, bridgeName(id), req.Planned, req.Private)
}

// Update rewires, reshapes and sets the state in place; the nodes at the
// ends are not touched. A wire that gains a third port becomes a bridge,
// and a segment left with two ports a wire.
func (p *Provider) Update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.apply(req.Prior, p.lab.IDFor(req.ID, req.Addr), p.bridgeOf(req.ID, req.Addr, req.Private), req.Planned, req.Private)
}

// apply makes the link of object ID id what planned says, from prior
// (null for a create), as a wire or on the bridge named bridge.
func (p *Provider) apply(prior cty.Value, id, bridge string, planned cty.Value, priv []byte) (providers.ApplyResponse, error) {
	if err := p.checkNetem(planned); err != nil {
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	pv := privateOf(priv)
	asWire := p.wireable(planned, pv)
	hadPrior := prior != cty.NilVal && !prior.IsNull()
	// Links applied at once may hand a port from one to the other: each
	// works on its ports alone, whichever order they come in.
	var ports []endpoint
	if hadPrior {
		ports = endpoints(prior)
	}
	defer p.lockPorts(append(append(ports, endpoints(planned)...), pv.endpoints()...))()
	labnet.Lock(p.lab.Name)
	err := labnet.EnsureNetns(p.labNetns())
	var h *netlink.Handle
	if err == nil {
		h, err = p.handle()
	}
	var br netlink.Link
	if err == nil && !asWire {
		br, err = p.ensureBridge(h, bridge, intAttr(planned, "mtu"))
	}
	labnet.Unlock(p.lab.Name)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	if asWire {
		if err := p.wirePorts(h, id, prior, planned, pv.endpoints()); err != nil {
			return providers.ApplyResponse{}, err
		}
		// The bridge the link had (a segment left with two ports, a link
		// made before wires) goes once its ports are wired; the ports it
		// had that the wire has not are unplugged first.
		if old, err := h.LinkByName(bridge); err == nil {
			if err := p.unplugFromBridge(h, old, prior, planned); err != nil {
				return providers.ApplyResponse{}, err
			}
			if err := removeBridge(h, p.labNetns(), old); err != nil {
				return providers.ApplyResponse{}, err
			}
		}
		pv.Wire, pv.Ends = true, endsOf(endpoints(planned))
		priv, _ = json.Marshal(pv)
		return providers.ApplyResponse{State: planned, Private: priv}, nil
	}
	if pv.Wire {
		// A wire that became a segment: the ports that leave are
		// unplugged; those that stay lose their redirects as they join
		// the bridge (wire), and their nodes forget their neighbors.
		if hadPrior {
			keep := map[string]bool{}
			for _, e := range endpoints(planned) {
				keep[p.portName(e)] = true
			}
			if err := p.unwire(h, id, append(endpoints(prior), pv.endpoints()...), !prior.GetAttr("impairment").IsNull(), keep); err != nil {
				return providers.ApplyResponse{}, err
			}
		}
		pv.Wire, pv.Ends = false, nil
		priv, _ = json.Marshal(pv)
	}
	// A half of a link across hosts sees none of the other halves' ports
	// join: the cross-host provider says when a node at an end is new.
	t := pv.Tunnel
	far := hadPrior && t != nil && t.Recable
	if err := p.wire(h, br, prior, planned, far); err != nil {
		return providers.ApplyResponse{}, err
	}
	if t != nil {
		if err := p.ensureTunnel(h, br, TunnelName(bridge[3:]), t, intAttr(planned, "mtu"), strAttr(planned, "state") != "down"); err != nil {
			return providers.ApplyResponse{}, err
		}
	}
	return providers.ApplyResponse{State: planned, Private: priv}, nil
}

// handle returns a netlink handle in the lab's namespace. One handle
// serves every action (netlink serializes requests per socket); it is
// made again when the namespace was removed and created anew. Callers do
// not close it.
func (p *Provider) handle() (*netlink.Handle, error) {
	st, err := os.Stat(labnet.Dir + "/" + p.labNetns())
	if err != nil {
		return nil, fmt.Errorf("the lab namespace %s: %w", p.labNetns(), err)
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	p.hmu.Lock()
	defer p.hmu.Unlock()
	if p.h != nil && p.hino == ino {
		return p.h, nil
	}
	if p.h != nil {
		p.h.Close()
	}
	h, ns, err := labnet.HandleIn(p.labNetns())
	if err != nil {
		return nil, err
	}
	ns.Close()
	p.h, p.hino = h, ino
	return h, nil
}

// dropHandle closes the cached handle, if any.
func (p *Provider) dropHandle() {
	p.hmu.Lock()
	defer p.hmu.Unlock()
	if p.h != nil {
		p.h.Close()
		p.h, p.hino = nil, 0
	}
}

// ensureBridge returns the bridge, making it when missing. A bridge that
// is already there is kept as it is: a create retried after an interrupt
// finds its own bridge (the name comes from the object ID), and wire then
// sets what differs.
func (p *Provider) ensureBridge(h *netlink.Handle, name string, mtu int) (netlink.Link, error) {
	if br, err := h.LinkByName(name); err == nil {
		return br, nil
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}}
	if err := h.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("creating bridge %s: %w", name, err)
	}
	return h.LinkByName(name)
}

// wire makes the bridge hold exactly the planned endpoints' ports, with
// the planned mtu, impairment and state. Ports that left the link are
// detached and unshaped; they stay, owned by their nodes. Nodes whose
// peer on the link may have changed (a port recabled, a port that joined
// beside theirs, or farChanged: a change seen on another host) forget
// their neighbors there, as do all its nodes when the link is set up
// again after being down.
func (p *Provider) wire(h *netlink.Handle, br netlink.Link, prior, planned cty.Value, farChanged bool) error {
	mtu := intAttr(planned, "mtu")
	if br.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(br, mtu); err != nil {
			return err
		}
	}
	want := map[string]bool{}
	for _, e := range endpoints(planned) {
		want[p.portName(e)] = true
	}
	// Ports that leave the link are known from the prior value: no dump of
	// the namespace, which parallel applies would keep interrupting.
	if prior != cty.NilVal && !prior.IsNull() {
		for _, e := range endpoints(prior) {
			if l, err := h.LinkByName(p.portName(e)); err == nil && !want[l.Attrs().Name] && l.Attrs().MasterIndex == br.Attrs().Index {
				h.LinkSetNoMaster(l)
				clearQdisc(h, l)
				setCarrier(h, l, false) // unplugged: its node sees no carrier
				p.nodeCarrier(e, false)
			}
		}
	}
	up := strAttr(planned, "state") != "down"
	imp, _ := parseImpairment(planned.GetAttr("impairment"))
	// Qdiscs are touched only when there is or was an impairment: listing
	// them costs a dump per port.
	shaping := !planned.GetAttr("impairment").IsNull() || (prior != cty.NilVal && !prior.IsNull() && !prior.GetAttr("impairment").IsNull())
	var recabled, stayed []recable
	joined := false
	for _, e := range endpoints(planned) {
		name := p.portName(e)
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("%s has no port %d in the lab (its interface %s is missing): apply the node first, or check its ports", e.node, e.port, name)
		}
		if l.Attrs().MTU != mtu {
			if err := h.LinkSetMTU(l, mtu); err != nil {
				return fmt.Errorf("mtu %d on %s port %d: %w", mtu, e.node, e.port, err)
			}
		}
		// A port that was unplugged (down) or taken from another link is
		// being recabled: what its node learned of the old peer goes.
		if l.Attrs().MasterIndex == br.Attrs().Index {
			stayed = append(stayed, recable{e, l})
		} else {
			joined = true
			if l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().MasterIndex != 0 {
				recabled = append(recabled, recable{e, l})
			}
			// A redirect left from a wire would take its frames before
			// the bridge sees them; its node had another peer.
			if had, err := labnet.Unredirect(h, l); err != nil {
				return err
			} else if had && l.Attrs().Flags&net.FlagUp != 0 && l.Attrs().MasterIndex == 0 {
				recabled = append(recabled, recable{e, l})
			}
			if err := h.LinkSetMaster(l, br); err != nil {
				return fmt.Errorf("joining %s port %d to the link: %w", e.node, e.port, err)
			}
		}
		if err := p.plug(h, e, l, up, shaping, imp); err != nil {
			return err
		}
	}
	// The ports that stayed see a new peer when another joined (a node
	// at the other end replaced): a cable swapped at the far end. A link
	// set up again is a cable plugged back: what its nodes failed to
	// resolve while it was down would hold their traffic for a while.
	replugged := up && prior != cty.NilVal && !prior.IsNull() && strAttr(prior, "state") == "down"
	if joined || farChanged || replugged {
		recabled = append(recabled, stayed...)
	}
	for _, r := range recabled {
		p.forgetNeighbors(r.e, r.l)
	}
	if !up {
		return h.LinkSetDown(br)
	}
	return h.LinkSetUp(br)
}

// plug sets a port of the link as planned: the cable in or out (up), and,
// when shaping, its impairment.
func (p *Provider) plug(h *netlink.Handle, e endpoint, l netlink.Link, up, shaping bool, imp impairment) error {
	if err := setCarrier(h, l, up); err != nil {
		return fmt.Errorf("%s port %d: %w", e.node, e.port, err)
	}
	if err := p.nodeCarrier(e, up); err != nil {
		return err
	}
	if shaping {
		if err := setQdisc(h, l, imp); err != nil {
			return fmt.Errorf("impairment on %s port %d: %w", e.node, e.port, err)
		}
	}
	return nil
}

// recable is a port whose node must forget its neighbors.
type recable struct {
	e endpoint
	l netlink.Link
}

// setCarrier plugs or pulls the cable at one port: it sets the lab-side
// end of the node's port up or down. A veth's peer has carrier only while
// this end is up, so a container (or a VirtualBox adapter bridged to a
// veth) sees NO-CARRIER at once when the link goes down, and routing
// daemons react without waiting for a dead timer; the bridge's state
// alone would leave the node's interface with carrier.
func setCarrier(h *netlink.Handle, l netlink.Link, up bool) error {
	if (l.Attrs().Flags&net.FlagUp != 0) == up {
		return nil
	}
	if up {
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("setting %s up (carrier on): %w", l.Attrs().Name, err)
		}
		return nil
	}
	if err := h.LinkSetDown(l); err != nil {
		return fmt.Errorf("setting %s down (carrier off): %w", l.Attrs().Name, err)
	}
	return nil
}

// forgetNeighbors empties the neighbor (ARP, NDP) cache of a container's
// interface at a port that was recabled. The kernel flushes it when the
// interface loses carrier, but only if it sees the carrier off: a port
// unplugged and plugged again within moments (a link replaced with its
// peer node, as when the node moves to another host) may never show it,
// and the node would keep sending to the old peer's MAC address until its
// entry expires, up to a minute. The container's side of the veth is the
// port's peer (IFLA_LINK) in the namespace named after the node's ID. A
// VM's cache is the guest's own: nothing to do here.
func (p *Provider) forgetNeighbors(e endpoint, l netlink.Link) {
	ns := labnet.ContainerNetns(p.lab.Object(e.node))
	if _, err := os.Stat(labnet.Dir + "/" + ns); err != nil || l.Attrs().ParentIndex == 0 {
		return
	}
	h, nsh, err := labnet.HandleIn(ns)
	if err != nil {
		return
	}
	defer nsh.Close()
	defer h.Close()
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		ns, _ := h.NeighList(l.Attrs().ParentIndex, fam)
		for i := range ns {
			if ns[i].State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) == 0 {
				h.NeighDel(&ns[i])
			}
		}
	}
}

// nodeCarrier plugs or pulls the cable inside the node too, for nodes
// whose provider does it there (a QEMU VM: QMP set_link).
func (p *Provider) nodeCarrier(e endpoint, up bool) error {
	if p.lab.Carrier == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), labnet.DefaultToolTimeout)
	defer cancel()
	return p.lab.Carrier(ctx, e.node, e.port, up)
}

// portsUp tells whether every port of the link that is joined to br is
// up: the carrier its nodes see.
func portsUp(ports []netlink.Link) bool {
	for _, l := range ports {
		if l.Attrs().Flags&net.FlagUp == 0 {
			return false
		}
	}
	return true
}

// setQdisc makes the root qdisc of a port what imp asks for. Replace, not
// add: a port that was shaped differently before changes in one step,
// without a moment with no shaping at all.
func setQdisc(h *netlink.Handle, l netlink.Link, imp impairment) error {
	q := imp.qdisc(l.Attrs().Index)
	if q == nil {
		return clearQdisc(h, l)
	}
	return h.QdiscReplace(q)
}

// clearQdisc removes labform's root qdisc (handle 1:) from l, if any.
func clearQdisc(h *netlink.Handle, l netlink.Link) error {
	qs, err := h.QdiscList(l)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == netlink.MakeHandle(1, 0) {
			return h.QdiscDel(q)
		}
	}
	return nil
}

// Delete unplugs the ports and removes the wire or the bridge. In a
// destroy of the whole lab the lab namespace is removed instead (or,
// while something holds it, a bridge is marked doomed): the kernel
// deletes everything in it in one batch, where deleting bridges one by one
// costs a wait for the kernel's RCU barrier each, under its rtnl lock.
func (p *Provider) Delete(ctx context.Context, req providers.ApplyRequest) error {
	if _, err := os.Stat(labnet.Dir + "/" + p.labNetns()); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	pv := privateOf(req.Private)
	defer p.lockPorts(append(endpoints(req.Prior), pv.endpoints()...))()
	if req.WholeLab {
		// The whole lab goes: its namespace is removed now, unless a
		// firewall chain holds it, and the kernel deletes every bridge in
		// it while the nodes are being stopped; else the bridge is marked
		// doomed and goes with the namespace later. The cached handle
		// would keep the namespace, and the bridges in it, alive.
		p.dropHandle()
		if gone, err := labnet.RemoveLab(p.lab.Name); gone || err != nil {
			return err
		}
		if pv.Wire {
			// Something holds the namespace: a wire's ports belong to its
			// nodes, which are destroyed next and take them with them.
			// (The handle was dropped for the other links' deletes: using
			// one here would race with them.)
			return nil
		}
		return labnet.Doom(p.labNetns(), p.bridgeOf(req.ID, req.Addr, req.Private))
	}
	h, err := p.handle()
	if err != nil {
		return err
	}
	if pv.Wire {
		// The cable goes before the redirects, so the nodes see their
		// ports lose carrier; a port another link took over (the new
		// link of a create_before_destroy) is left to it. The recorded
		// ends count too: a refresh that found a peer port gone shows
		// neither end.
		return p.unwire(h, p.lab.IDFor(req.ID, req.Addr), append(endpoints(req.Prior), pv.endpoints()...), !req.Prior.GetAttr("impairment").IsNull(), nil)
	}
	if tunnelOf(req.Private) != nil {
		if err := tunnelDown(h, TunnelName(p.bridgeOf(req.ID, req.Addr, req.Private)[3:])); err != nil {
			return err
		}
	}
	if br, err := h.LinkByName(p.bridgeOf(req.ID, req.Addr, req.Private)); err == nil {
		// Deleting the bridge frees its ports; their shaping goes too,
		// unless a port now belongs to another bridge (the new link of a
		// create_before_destroy took it over). The cable goes before the
		// bridge, so the nodes see their ports lose carrier. Without an
		// impairment in the prior value, labform left no qdisc to clear.
		shaped := !req.Prior.GetAttr("impairment").IsNull()
		for _, e := range endpoints(req.Prior) {
			if l, err := h.LinkByName(p.portName(e)); err == nil && l.Attrs().MasterIndex == br.Attrs().Index {
				if shaped {
					clearQdisc(h, l)
				}
				setCarrier(h, l, false)
				p.nodeCarrier(e, false)
			}
		}
		if err := removeBridge(h, p.labNetns(), br); err != nil {
			return err
		}
	}
	// The lab namespace is not checked for emptiness here: a link's ports
	// belong to nodes, which are destroyed after their links and remove
	// the namespace when they leave it empty. Checking costs a dump of the
	// whole namespace per link (it made deleting 1,000 links take 99 s).
	return nil
}

// removeBridge deletes a bridge of the lab namespace ns: marked doomed,
// then deleted as a group, so that the links deleted at the same moment go
// in one batch, where the kernel waits for its RCU barrier once instead of
// once per bridge. Either way the bridge is gone when it returns.
func removeBridge(h *netlink.Handle, ns string, br netlink.Link) error {
	err := h.LinkSetGroup(br, labnet.DoomedGroup)
	if err == nil {
		err = labnet.Reap(ns)
	}
	if err != nil {
		if err := h.LinkDel(br); err != nil && !errors.Is(err, syscall.ENODEV) {
			return fmt.Errorf("deleting bridge %s: %w", br.Attrs().Name, err)
		}
	}
	return nil
}

// Read is ReadMany of one: the dump costs the same for one link as for
// all of them, so the engine batches reads through ReadMany.
func (p *Provider) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	r, e := p.ReadMany(ctx, []providers.ReadRequest{req})
	return r[0], e[0]
}

// ReadMany reads every link from one dump of the lab namespace's links and
// one of its qdiscs.
func (p *Provider) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	resps := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	gone := func() {
		for i, r := range reqs {
			resps[i] = providers.ReadResponse{State: cty.NullVal(r.Prior.Type())}
		}
	}
	if _, err := os.Stat(labnet.Dir + "/" + p.labNetns()); errors.Is(err, os.ErrNotExist) {
		gone()
		return resps, errs
	}
	h, err := p.handle()
	if err == nil {
		var links []netlink.Link
		if links, err = retryDump(h.LinkList); err == nil {
			var qdiscs []netlink.Qdisc
			if qdiscs, err = retryDump(func() ([]netlink.Qdisc, error) { return h.QdiscList(nil) }); err == nil {
				byName, byIndex := map[string]netlink.Link{}, map[int]netlink.Qdisc{}
				for _, l := range links {
					byName[l.Attrs().Name] = l
				}
				for _, q := range qdiscs {
					if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == netlink.MakeHandle(1, 0) {
						byIndex[q.Attrs().LinkIndex] = q
					}
				}
				for i, r := range reqs {
					resps[i], errs[i] = p.readOne(h, r, byName, byIndex)
				}
				return resps, errs
			}
		}
	}
	for i := range errs {
		errs[i] = err
	}
	return resps, errs
}

// readOne builds a link's live value from the dumps. It reads the prior
// value's endpoints back rather than listing the bridge's ports: a port
// that is not labform's (joined by hand) is no endpoint, and an endpoint
// whose port is gone or moved shows as missing, which the plan repairs.
// A doomed bridge reads as gone, as it will be once Configure reaps it.
func (p *Provider) readOne(h *netlink.Handle, req providers.ReadRequest, links map[string]netlink.Link, qdiscs map[int]netlink.Qdisc) (providers.ReadResponse, error) {
	if req.Prior.IsNull() {
		return providers.ReadResponse{State: req.Prior}, nil
	}
	if privateOf(req.Private).Wire {
		v, err := p.readWire(h, req, links, qdiscs)
		return providers.ReadResponse{State: v, Private: req.Private}, err
	}
	br, ok := links[p.bridgeOf(req.ID, req.Addr, req.Private)]
	if !ok && len(req.Private) == 0 {
		// Nothing recorded (a lab whose state was lost, looked for by the
		// names its IDs give): a link of two ports is looked for as a wire.
		v, err := p.readWire(h, req, links, qdiscs)
		if err != nil || v.IsNull() {
			return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, err
		}
		priv, _ := json.Marshal(private{Wire: true, Ends: endsOf(endpoints(req.Prior))})
		return providers.ReadResponse{State: v, Private: priv}, nil
	}
	if !ok || br.Attrs().Group == labnet.DoomedGroup {
		return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
	}
	if tunnelOf(req.Private) != nil {
		// A half of a link across hosts without its tunnel is gone.
		if tl, ok := links[TunnelName(br.Attrs().Name[3:])]; !ok || tl.Attrs().MasterIndex != br.Attrs().Index {
			return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
		}
	}
	// Endpoints: those of the prior value whose port is still joined to
	// this bridge. A port gone or moved shows as a missing endpoint.
	var eps []cty.Value
	var joined []netlink.Link
	for _, e := range endpoints(req.Prior) {
		l, ok := links[p.portName(e)]
		if !ok || l.Attrs().MasterIndex != br.Attrs().Index {
			continue
		}
		eps = append(eps, providers.EndpointVal(e.node, e.port))
		joined = append(joined, l)
	}
	return providers.ReadResponse{State: p.liveValue(req.Prior, eps, joined, br, qdiscs), Private: req.Private}, nil
}

// liveValue is a link's value as found: the endpoints whose ports are
// joined, and what the bridge (nil for a wire) and those ports say of
// its mtu, state and shaping.
func (p *Provider) liveValue(prior cty.Value, eps []cty.Value, joined []netlink.Link, br netlink.Link, qdiscs map[int]netlink.Qdisc) cty.Value {
	m := prior.AsValueMap()
	imp, _ := parseImpairment(prior.GetAttr("impairment"))
	shaped := true
	for _, l := range joined {
		if !qdiscMatches(qdiscs[l.Attrs().Index], imp) {
			shaped = false
		}
	}
	if len(eps) == 0 {
		m["endpoints"] = cty.ListValEmpty(providers.EndpointType)
	} else {
		m["endpoints"] = cty.ListVal(eps)
	}
	if br != nil {
		m["mtu"] = cty.NumberIntVal(int64(br.Attrs().MTU))
	} else {
		// A wire's mtu is its ports': one changed by hand shows.
		for _, l := range joined {
			if l.Attrs().MTU != intAttr(prior, "mtu") {
				m["mtu"] = cty.NumberIntVal(int64(l.Attrs().MTU))
			}
		}
	}
	// A link is what it was set to only when the bridge and every joined
	// port agree; anything else reads as the other state, so that the plan
	// repairs it (a port set up by hand on a link that is down carries
	// traffic to its node's interface, which then has carrier).
	brUp, portsOn := br == nil || br.Attrs().Flags&net.FlagUp != 0, portsUp(joined)
	allDown := br == nil || !brUp
	for _, l := range joined {
		if l.Attrs().Flags&net.FlagUp != 0 {
			allDown = false
		}
	}
	switch {
	case strAttr(prior, "state") == "down" && allDown, strAttr(prior, "state") != "down" && !(brUp && portsOn):
		m["state"] = cty.StringVal("down")
	default:
		m["state"] = cty.StringVal("up")
	}
	if !shaped {
		// Changed by hand: say so without guessing what it became.
		m["impairment"] = cty.NullVal(prior.GetAttr("impairment").Type())
	}
	return cty.ObjectVal(m)
}

// qdiscMatches tells whether the live root qdisc is what imp asks for.
func qdiscMatches(q netlink.Qdisc, imp impairment) bool {
	want := imp.qdisc(0)
	switch w := want.(type) {
	case nil:
		return q == nil
	case *netlink.Tbf:
		t, ok := q.(*netlink.Tbf)
		return ok && t.Rate == w.Rate
	case *netlink.Netem:
		n, ok := q.(*netlink.Netem)
		return ok && n.Latency == w.Latency && n.Jitter == w.Jitter && n.Loss == w.Loss && n.Duplicate == w.Duplicate && n.CorruptProb == w.CorruptProb
	}
	return false
}

// ValidateResource checks one link: at least two ports, no port twice,
// well-formed impairments, and netem only where the kernel has it.
func (p *Provider) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	var errs []*providers.AttrError
	eps := v.GetAttr("endpoints")
	if eps.IsKnown() && !eps.IsNull() && eps.LengthInt() < 2 {
		errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("endpoints"), Summary: "Too few endpoints",
			Detail: "A link joins at least two ports: two make a wire, more a shared segment."})
	}
	seen := map[endpoint]bool{}
	for _, e := range endpoints(v) {
		if seen[e] {
			errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("endpoints"), Summary: "Port listed twice",
				Detail: fmt.Sprintf("%s port %d is listed twice in this link.", e.node, e.port)})
		}
		seen[e] = true
	}
	_, perr := parseImpairment(v.GetAttr("impairment"))
	for _, name := range slices.Sorted(maps.Keys(perr)) {
		errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("impairment").GetAttr(name), Summary: "Invalid impairment", Detail: perr[name]})
	}
	return errs
}

// CheckHost refuses, at plan time, impairments this kernel cannot apply.
func (p *Provider) CheckHost(typ string, v cty.Value) []*providers.AttrError {
	if err := p.checkNetem(v); err != nil {
		return []*providers.AttrError{{Path: cty.GetAttrPath("impairment"), Summary: "Impairment not supported by this kernel", Detail: err.Error()}}
	}
	return nil
}

// ValidateLab checks what concerns several links: a port joins one link.
func (p *Provider) ValidateLab(typ string, values map[string]cty.Value) map[string][]*providers.AttrError {
	owner := map[endpoint]string{}
	out := map[string][]*providers.AttrError{}
	addrs := slices.Sorted(maps.Keys(values))
	for _, a := range addrs {
		for _, e := range endpoints(values[a]) {
			if other, taken := owner[e]; taken && other != a {
				out[a] = append(out[a], &providers.AttrError{Path: cty.GetAttrPath("endpoints"), Summary: "Port used by two links",
					Detail: fmt.Sprintf("%s port %d is already an endpoint of %s. A port joins one link; use a link with three or more endpoints for a shared segment.", e.node, e.port, other)})
			}
			owner[e] = a
		}
	}
	return out
}

// checkNetem refuses, before anything is made, an impairment that needs
// netem on a kernel without it: the error names what works instead (rate,
// through tbf), where a failed qdisc add would leave a half-made link.
func (p *Provider) checkNetem(v cty.Value) error {
	imp, _ := parseImpairment(v.GetAttr("impairment"))
	if imp.netem {
		return p.netemSupport()
	}
	return nil
}

// netemSupport probes once whether the kernel has the netem qdisc: a veth
// pair in a namespace of its own gets a netem qdisc, and everything is
// removed again. Without root the probe cannot run; apply will then say
// what the kernel answers.
func (p *Provider) netemSupport() error {
	p.netemOnce.Do(func() {
		if os.Geteuid() != 0 {
			return
		}
		p.netemErr = labnet.ProbeNetem()
	})
	return p.netemErr
}

// retryDump repeats a netlink dump that changes in the namespace
// interrupted (the kernel flags it rather than return a torn list).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for i := 0; i < 5; i++ {
		var out []T
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}
