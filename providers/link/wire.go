package link

import (
	"fmt"
	"strconv"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
)

// A link between two ports on this host is a wire: no bridge, each
// port's ingress redirected to the other port (labnet.Redirect). Making
// and deleting one costs a few netlink requests and no RCU grace period,
// where a bridge costs one each time it is deleted (about 17 ms, under
// the kernel's rtnl lock); and frames a bridge keeps to itself (LLDP,
// LACP, STP) cross it as they cross a cable. Segments (three ports or
// more), halves of links across hosts and imported bridges stay bridges,
// as does every link on a kernel without clsact, u32 and mirred.

// wireable tells whether a link with this value and private data is a
// wire.
func (p *Provider) wireable(v cty.Value, pv private) bool {
	if pv.Tunnel != nil || pv.Bridge != "" || len(endpoints(v)) != 2 {
		return false
	}
	p.mirredOnce.Do(func() { p.mirredErr = labnet.ProbeMirred() })
	return p.mirredErr == nil
}

// wireTag is the tag of the wire with the given object ID on its ports'
// redirects (28 bits of the ID): a create_before_destroy's new wire
// between the same ports has another, so the old one's delete leaves the
// new one's redirects, and so has a link that takes a port over.
func wireTag(id string) uint32 {
	v, _ := strconv.ParseUint(id[:7], 16, 32)
	return labnet.Tag(uint32(v))
}

// ownsPort tells whether l is redirected by the wire tagged tag.
func ownsPort(h *netlink.Handle, l netlink.Link, tag uint32) (bool, error) {
	_, t, _, err := labnet.Redirected(h, l)
	if err != nil {
		return false, fmt.Errorf("reading the tc filters of %s: %w", l.Attrs().Name, err)
	}
	return t == tag, nil
}

// wirePorts makes the wire hold exactly the planned two ports, with the
// planned mtu, impairment and state. It is wire's counterpart for a link
// without a bridge: ports that left (recorded in ends, or in prior) are
// unplugged and unshaped, and when a port is wired anew both nodes forget
// their neighbors.
func (p *Provider) wirePorts(h *netlink.Handle, id string, prior, planned cty.Value, ends []endpoint) error {
	tag := wireTag(id)
	mtu := intAttr(planned, "mtu")
	eps := endpoints(planned)
	hadPrior := prior != cty.NilVal && !prior.IsNull()
	keep := map[string]bool{p.portName(eps[0]): true, p.portName(eps[1]): true}
	if hadPrior {
		if err := p.unwire(h, id, append(endpoints(prior), ends...), !prior.GetAttr("impairment").IsNull(), keep); err != nil {
			return err
		}
	}
	var ls [2]netlink.Link
	for i, e := range eps {
		l, err := h.LinkByName(p.portName(e))
		if err != nil {
			return fmt.Errorf("%s has no port %d in the lab (its interface %s is missing): apply the node first, or check its ports", e.node, e.port, p.portName(e))
		}
		ls[i] = l
	}
	up := strAttr(planned, "state") != "down"
	imp, _ := parseImpairment(planned.GetAttr("impairment"))
	shaping := !planned.GetAttr("impairment").IsNull() || (hadPrior && !prior.GetAttr("impairment").IsNull())
	joined := false
	for i, e := range eps {
		l, peer := ls[i], ls[1-i]
		if l.Attrs().MTU != mtu {
			if err := h.LinkSetMTU(l, mtu); err != nil {
				return fmt.Errorf("mtu %d on %s port %d: %w", mtu, e.node, e.port, err)
			}
		}
		to, t, filtered, err := labnet.Redirected(h, l)
		if err != nil {
			return fmt.Errorf("reading where %s port %d is wired (tc filters of %s): %w", e.node, e.port, l.Attrs().Name, err)
		}
		if to != peer.Attrs().Index || t != tag {
			joined = true
			if l.Attrs().MasterIndex != 0 {
				if err := h.LinkSetNoMaster(l); err != nil {
					return fmt.Errorf("taking %s port %d off its bridge: %w", e.node, e.port, err)
				}
			}
			if err := labnet.Redirect(h, l, peer, tag, filtered); err != nil {
				return fmt.Errorf("wiring %s port %d: %w", e.node, e.port, err)
			}
		}
		if err := p.plug(h, e, l, up, shaping, imp); err != nil {
			return err
		}
	}
	// A port wired anew (a node at an end replaced, a port recabled) or a
	// wire set up again changes what both ends' nodes see as their peer:
	// what they learned of the old one, or failed to resolve while the
	// wire was down, goes.
	if joined || (up && hadPrior && strAttr(prior, "state") == "down") {
		for i, e := range eps {
			p.forgetNeighbors(e, ls[i])
		}
	}
	return nil
}

// unwire takes the wire tagged by id off the ports of ends that it still
// holds: each is unplugged, and unshaped when shaped, unless keep names
// it (a port that stays on the link, rewired by the caller).
func (p *Provider) unwire(h *netlink.Handle, id string, ends []endpoint, shaped bool, keep map[string]bool) error {
	tag := wireTag(id)
	seen := map[string]bool{}
	for _, e := range ends {
		name := p.portName(e)
		if seen[name] || keep[name] {
			continue
		}
		seen[name] = true
		l, err := h.LinkByName(name)
		if err != nil {
			continue // gone with its node
		}
		if mine, err := ownsPort(h, l, tag); err != nil || !mine {
			if err != nil {
				return err
			}
			continue
		}
		if err := p.unplug(h, e, l, shaped); err != nil {
			return err
		}
	}
	return nil
}

// unplug pulls the cable at a port that leaves a link: its node sees no
// carrier, its shaping goes (labform left none on a link without an
// impairment, and listing qdiscs dumps every interface's), then its
// redirect.
func (p *Provider) unplug(h *netlink.Handle, e endpoint, l netlink.Link, shaped bool) error {
	if shaped {
		if err := clearQdisc(h, l); err != nil {
			return fmt.Errorf("removing the impairment of %s port %d: %w", e.node, e.port, err)
		}
	}
	if err := setCarrier(h, l, false); err != nil {
		return fmt.Errorf("%s port %d: %w", e.node, e.port, err)
	}
	if err := p.nodeCarrier(e, false); err != nil {
		return err
	}
	_, err := labnet.Unredirect(h, l)
	return err
}

// unplugFromBridge pulls the cable at the ports of prior on br that the
// planned value no longer has: a segment about to lose its bridge (it
// became a wire) frees them in the state a removed link leaves them.
func (p *Provider) unplugFromBridge(h *netlink.Handle, br netlink.Link, prior, planned cty.Value) error {
	if prior == cty.NilVal || prior.IsNull() {
		return nil
	}
	want := map[string]bool{}
	for _, e := range endpoints(planned) {
		want[p.portName(e)] = true
	}
	for _, e := range endpoints(prior) {
		l, err := h.LinkByName(p.portName(e))
		if err != nil || want[l.Attrs().Name] || l.Attrs().MasterIndex != br.Attrs().Index {
			continue
		}
		if err := h.LinkSetNoMaster(l); err != nil {
			return fmt.Errorf("taking %s port %d off bridge %s: %w", e.node, e.port, br.Attrs().Name, err)
		}
		if err := p.unplug(h, e, l, !prior.GetAttr("impairment").IsNull()); err != nil {
			return err
		}
	}
	return nil
}

// readWire builds a wire's live value: the prior endpoints whose port
// still redirects, with this wire's tag, to the other's. A wire none of
// whose ports carries its tag reads as gone; one whose peer port is gone
// (a node's port deleted by hand) reads with that endpoint missing.
func (p *Provider) readWire(h *netlink.Handle, req providers.ReadRequest, links map[string]netlink.Link, qdiscs map[int]netlink.Qdisc) (cty.Value, error) {
	eps := endpoints(req.Prior)
	if len(eps) != 2 {
		return cty.NullVal(req.Prior.Type()), nil
	}
	tag := wireTag(p.lab.IDFor(req.ID, req.Addr))
	var vals []cty.Value
	var joined []netlink.Link
	tagged := false
	for i, e := range eps {
		l, ok := links[p.portName(e)]
		if !ok {
			continue
		}
		to, t, _, err := labnet.Redirected(h, l)
		if err != nil {
			return cty.NilVal, fmt.Errorf("reading the tc filters of %s: %w", l.Attrs().Name, err)
		}
		if t != tag {
			continue
		}
		tagged = true
		if peer, ok := links[p.portName(eps[1-i])]; ok && to == peer.Attrs().Index {
			vals = append(vals, providers.EndpointVal(e.node, e.port))
			joined = append(joined, l)
		}
	}
	if !tagged {
		return cty.NullVal(req.Prior.Type()), nil
	}
	return p.liveValue(req.Prior, vals, joined, nil, qdiscs), nil
}
