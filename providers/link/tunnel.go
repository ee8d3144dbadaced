package link

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/labform/labform/providers/labnet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Tunnel is the VXLAN side of a link whose ends sit on different hosts:
// the remote provider gives it in the private data of each host's half.
// The half's bridge then holds its host's ports and a VXLAN interface
// that reaches the other hosts' halves.
type Tunnel struct {
	VNI     int      `json:"vni"`
	Local   string   `json:"local"`   // this host's underlay address
	Remotes []string `json:"remotes"` // the other hosts' underlay addresses
	Port    int      `json:"port"`
	// Recable is set when a node at an end of the link is new since the
	// last apply: the nodes on this half forget their neighbors there.
	Recable bool `json:"recable,omitempty"`
}

// tunnelOf reads the tunnel from a link's private data; nil for a link
// on one host.
func tunnelOf(priv []byte) *Tunnel { return privateOf(priv).Tunnel }

// TunnelName is the VXLAN interface of the link of the given object ID.
func TunnelName(id string) string { return "lfx" + id[:12] }

// ensureTunnel makes the link's VXLAN interface and joins it to br. It is
// made in this process's namespace, where the underlay address is, and
// then moved into the lab namespace: its UDP socket stays with the
// underlay while the interface sits on the lab's bridge.
func (p *Provider) ensureTunnel(h *netlink.Handle, br netlink.Link, name string, t *Tunnel, mtu int, up bool) error {
	l, err := h.LinkByName(name)
	if err != nil {
		vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}, VxlanId: t.VNI,
			SrcAddr: net.ParseIP(t.Local), Port: t.Port, Learning: true}
		if err := netlink.LinkAdd(vx); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("creating VXLAN interface %s (VNI %d from %s): %w", name, t.VNI, t.Local, err)
		}
		made, err := netlink.LinkByName(name)
		if err != nil {
			return fmt.Errorf("VXLAN interface %s: %w", name, err)
		}
		_, ns, err := labnet.HandleIn(p.labNetns())
		if err != nil {
			netlink.LinkDel(made)
			return err
		}
		err = netlink.LinkSetNsFd(made, int(ns))
		ns.Close()
		if err != nil {
			netlink.LinkDel(made)
			return fmt.Errorf("moving VXLAN interface %s into %s: %w", name, p.labNetns(), err)
		}
		if l, err = h.LinkByName(name); err != nil {
			return fmt.Errorf("VXLAN interface %s after its move: %w", name, err)
		}
	}
	if l.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("mtu %d on VXLAN interface %s: %w", mtu, name, err)
		}
	}
	// Every frame with no learned destination goes to every other host.
	zero := net.HardwareAddr{0, 0, 0, 0, 0, 0}
	for _, r := range t.Remotes {
		n := &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT,
			Flags: netlink.NTF_SELF, IP: net.ParseIP(r), HardwareAddr: zero}
		if err := h.NeighAppend(n); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("forwarding entry to %s on %s: %w", r, name, err)
		}
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := h.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("joining VXLAN interface %s to the link: %w", name, err)
		}
	}
	return setCarrier(h, l, up)
}

// tunnelDown deletes the link's VXLAN interface, if any.
func tunnelDown(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("deleting VXLAN interface %s: %w", name, err)
	}
	return nil
}
