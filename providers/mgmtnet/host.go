package mgmtnet

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Host-side work of the management network, over netlink in the host's
// namespace (labform's own). Providers of nodes call these to give a node
// its management interface.

// hostHandle opens a netlink handle in the host's namespace, whatever
// namespace the calling thread happens to be in.
func hostHandle() (*netlink.Handle, netns.NsHandle, error) {
	runtime.LockOSThread()
	ns, err := netns.Get()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, ns, err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, ns, err
	}
	return h, ns, nil
}

// onHost runs fn with a netlink handle in the host's namespace and that
// namespace.
func onHost(fn func(h *netlink.Handle, hostNs netns.NsHandle) error) error {
	h, hostNs, err := hostHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	defer hostNs.Close()
	return fn(h, hostNs)
}

// withHost returns what fn returns, called with a netlink handle in the
// host's namespace.
func withHost[T any](fn func(h *netlink.Handle) (T, error)) (v T, err error) {
	err = onHost(func(h *netlink.Handle, _ netns.NsHandle) error {
		v, err = fn(h)
		return err
	})
	return v, err
}

// family is netlink's address family of pfx.
func family(pfx netip.Prefix) int {
	if pfx.Addr().Is6() {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

// onBridge runs fn with a netlink handle in the host's namespace, that
// namespace, and the lab's management bridge. The bridge is made by the
// management network's apply: one missing is an error that says so.
func onBridge(bridge string, fn func(h *netlink.Handle, hostNs netns.NsHandle, br netlink.Link) error) error {
	return onHost(func(h *netlink.Handle, hostNs netns.NsHandle) error {
		br, err := h.LinkByName(bridge)
		if err != nil {
			return fmt.Errorf("the management bridge %s is missing (apply the lab again to make it): %w", bridge, err)
		}
		return fn(h, hostNs, br)
	})
}

// vethEnds finds both ends of a node's management veth pair (end a
// through handle ha, end b through hb), or makes the pair again with add
// when either is missing: one end without the other is not ours any more.
func vethEnds(ha *netlink.Handle, a string, hb *netlink.Handle, b string, add func() error) (la, lb netlink.Link, err error) {
	la, aerr := ha.LinkByName(a)
	lb, berr := hb.LinkByName(b)
	if aerr == nil && berr == nil {
		return la, lb, nil
	}
	if aerr == nil {
		ha.LinkDel(la)
	}
	if berr == nil {
		hb.LinkDel(lb)
	}
	if err := add(); err != nil {
		return nil, nil, err
	}
	if la, err = ha.LinkByName(a); err != nil {
		return nil, nil, err
	}
	if lb, err = hb.LinkByName(b); err != nil {
		return nil, nil, err
	}
	return la, lb, nil
}

func notFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// ensureBridge makes the bridge exist and be up.
func ensureBridge(h *netlink.Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil && !notFound(err) {
		return nil, fmt.Errorf("looking for the management bridge %s: %w", name, err)
	}
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating the management bridge %s: %w", name, err)
		}
		if l, err = h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("the management bridge %s: %w", name, err)
		}
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return nil, fmt.Errorf("%s exists on the host but is a %s, not a bridge; labform did not make it and leaves it alone", name, l.Type())
	}
	if err := h.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("setting the management bridge %s up: %w", name, err)
	}
	return l, nil
}

// globalAddrs lists the link's addresses that are neither link-local nor
// loopback, as prefixes (172.30.0.1/24).
func globalAddrs(h *netlink.Handle, l netlink.Link) ([]netip.Prefix, error) {
	addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() || a.IP.IsLoopback() {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}

// syncAddrs makes the link's global addresses exactly want. IPv6 ones are
// added without duplicate address detection, so they work at once.
func syncAddrs(h *netlink.Handle, l netlink.Link, want []netip.Prefix) error {
	have, err := globalAddrs(h, l)
	if err != nil {
		return fmt.Errorf("reading the addresses of %s: %w", l.Attrs().Name, err)
	}
	wanted := map[netip.Prefix]bool{}
	for _, p := range want {
		wanted[p] = true
	}
	present := map[netip.Prefix]bool{}
	for _, p := range have {
		present[p] = true
		if !wanted[p] {
			if err := h.AddrDel(l, nlAddr(p)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("removing %s from %s: %w", p, l.Attrs().Name, err)
			}
		}
	}
	for _, p := range want {
		if present[p] {
			continue
		}
		if err := h.AddrAdd(l, nlAddr(p)); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding %s to %s: %w", p, l.Attrs().Name, err)
		}
	}
	return nil
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	bits := p.Addr().BitLen()
	a := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// nodePrefixes turns a node's addresses into prefixes with the lengths of
// the bridge's subnets (the host's addresses on the bridge say them).
func nodePrefixes(bridgeAddrs []netip.Prefix, addrs ...string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range addrs {
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("management address %q: %w", s, err)
		}
		found := false
		for _, b := range bridgeAddrs {
			if b.Masked().Contains(a) {
				out = append(out, netip.PrefixFrom(a, b.Bits()))
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("management address %s is in none of the management bridge's subnets (%v); apply the management network first", s, bridgeAddrs)
		}
	}
	return out, nil
}

// Group is the interface group of a lab's host-side management
// interfaces (derived from the lab's ID, never 0, the default group): the
// management network's delete removes what is left of them with one
// request, instead of one interface at a time (each costs the kernel a
// synchronization of about 17 ms).
func Group(labID string) uint32 {
	h := sha256.Sum256([]byte("management group\x00" + labID))
	return binary.BigEndian.Uint32(h[:4])&0x7fffffff | 0x40000000
}

// DeleteGroup deletes every interface of the host's namespace in group,
// with one request.
func DeleteGroup(group uint32) error {
	return onHost(func(_ *netlink.Handle, hostNs netns.NsHandle) error {
		// nl's request goes to the namespace of the calling thread.
		return labnet.WithinHandle(hostNs, "of the host", func() error {
			req := nl.NewNetlinkRequest(unix.RTM_DELLINK, unix.NLM_F_ACK)
			req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
			req.AddData(nl.NewRtAttr(unix.IFLA_GROUP, nl.Uint32Attr(group)))
			if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("deleting the management interfaces (group %d): %w", group, err)
			}
			return nil
		})
	})
}

// AttachContainer gives a container its management interface: a veth
// pair with mgmt0 in the container's namespace, holding the node's
// addresses (no route beyond the subnet: the node's routing stays its
// own), and its peer (providers.ManagementPort) on the lab's management
// bridge in the host's namespace. It is idempotent: an interface already
// there is kept, re-attached and re-addressed.
func AttachContainer(ctrNetns, bridge string, group uint32, hostSide string, v4, v6 string) error {
	return onBridge(bridge, func(h *netlink.Handle, _ netns.NsHandle, br netlink.Link) error {
		return attachContainer(h, br, ctrNetns, group, hostSide, v4, v6)
	})
}

func attachContainer(h *netlink.Handle, br netlink.Link, ctrNetns string, group uint32, hostSide string, v4, v6 string) error {
	bridge := br.Attrs().Name
	bridgeAddrs, err := globalAddrs(h, br)
	if err != nil {
		return err
	}
	want, err := nodePrefixes(bridgeAddrs, v4, v6)
	if err != nil {
		return err
	}
	ctrH, ctrNs, err := labnet.HandleIn(ctrNetns)
	if err != nil {
		return err
	}
	defer ctrH.Close()
	defer ctrNs.Close()
	outside, inside, err := vethEnds(h, hostSide, ctrH, providers.ManagementInterface, func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostSide, Group: group}, PeerName: providers.ManagementInterface, PeerNamespace: netlink.NsFd(int(ctrNs))}
		if err := h.LinkAdd(veth); err != nil {
			return fmt.Errorf("creating the management interface (veth %s <-> %s in %s): %w", hostSide, providers.ManagementInterface, ctrNetns, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := h.LinkSetMaster(outside, br); err != nil {
		return fmt.Errorf("attaching %s to the management bridge %s: %w", hostSide, bridge, err)
	}
	if outside.Attrs().Group != group {
		if err := h.LinkSetGroup(outside, int(group)); err != nil {
			return fmt.Errorf("setting the group of %s: %w", hostSide, err)
		}
	}
	if err := h.LinkSetUp(outside); err != nil {
		return fmt.Errorf("setting %s up: %w", hostSide, err)
	}
	if err := syncAddrs(ctrH, inside, want); err != nil {
		return err
	}
	if err := ctrH.LinkSetUp(inside); err != nil {
		return fmt.Errorf("setting %s up in %s: %w", providers.ManagementInterface, ctrNetns, err)
	}
	return nil
}

// NodePrefixes are a node's management addresses with the prefix lengths
// of the bridge's subnets now (what AttachContainer gives mgmt0).
func NodePrefixes(bridge string, addrs ...string) (ps []netip.Prefix, err error) {
	err = onBridge(bridge, func(h *netlink.Handle, _ netns.NsHandle, br netlink.Link) error {
		bridgeAddrs, err := globalAddrs(h, br)
		if err != nil {
			return err
		}
		ps, err = nodePrefixes(bridgeAddrs, addrs...)
		return err
	})
	return ps, err
}

// ContainerAddresses reads the global addresses of a container's mgmt0
// (nil when it has none, or no mgmt0).
func ContainerAddresses(ctrNetns string) ([]netip.Prefix, error) {
	ctrH, ctrNs, err := labnet.HandleIn(ctrNetns)
	if err != nil {
		return nil, err
	}
	defer ctrH.Close()
	defer ctrNs.Close()
	l, err := ctrH.LinkByName(providers.ManagementInterface)
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return globalAddrs(ctrH, l)
}

// Attached reports whether the host side of a node's management interface
// exists and is a port of the bridge.
func Attached(bridge, hostSide string) bool {
	attached := false
	onBridge(bridge, func(h *netlink.Handle, _ netns.NsHandle, br netlink.Link) error {
		l, err := h.LinkByName(hostSide)
		attached = err == nil && l.Attrs().MasterIndex == br.Attrs().Index
		return nil
	})
	return attached
}

// Detach removes the host side of a node's management interface (a veth
// takes its peer along). One already gone is not an error.
func Detach(hostSide string) error {
	return onHostLink(hostSide, func(h *netlink.Handle, l netlink.Link) error {
		if err := h.LinkDel(l); err != nil && !notFound(err) {
			return fmt.Errorf("deleting the management interface %s: %w", hostSide, err)
		}
		return nil
	})
}

// onHostLink runs fn on the host's interface name, through a handle in
// the host's namespace. An interface that is gone is not an error: fn is
// not called.
func onHostLink(name string, fn func(h *netlink.Handle, l netlink.Link) error) error {
	return onHost(func(h *netlink.Handle, _ netns.NsHandle) error {
		l, err := h.LinkByName(name)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(h, l)
	})
}

// OpenTap creates a tap device in the host's namespace, attached to the
// management bridge and up, and returns its file, for a QEMU VM's
// management NIC. Like the VM's other taps it lives as long as the file
// is open anywhere: handed to QEMU, it goes when QEMU exits.
func OpenTap(name, bridge string) (f *os.File, err error) {
	err = onBridge(bridge, func(h *netlink.Handle, hostNs netns.NsHandle, br netlink.Link) error {
		f, err = openManagementTap(h, hostNs, br, name)
		return err
	})
	return f, err
}

func openManagementTap(h *netlink.Handle, hostNs netns.NsHandle, br netlink.Link, name string) (*os.File, error) {
	bridge := br.Attrs().Name
	var f *os.File
	var err error
	for try := 0; ; try++ {
		// A tap belongs to the namespace of the thread that opens
		// /dev/net/tun: the host's, whatever namespace the caller is in.
		err = labnet.WithinHandle(hostNs, "of the host", func() (err error) {
			f, err = labnet.TapDevice(name)
			return err
		})
		// A tap whose last holder just exited keeps its name a moment.
		if !errors.Is(err, unix.EBUSY) || try > 250 {
			break
		}
		sleep()
	}
	if err != nil {
		return nil, fmt.Errorf("creating the management tap %s: %w", name, err)
	}
	l, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetMaster(l, br)
	}
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("attaching the management tap %s to %s: %w", name, bridge, err)
	}
	return f, nil
}

// AttachHostVeth makes a veth pair in the host's namespace whose one end
// (hostSide) is a port of the management bridge and whose other end
// (adapterSide) is what a VirtualBox bridged adapter attaches to. Both
// are up; an existing pair is kept.
func AttachHostVeth(bridge string, group uint32, hostSide, adapterSide string) error {
	return onBridge(bridge, func(h *netlink.Handle, _ netns.NsHandle, br netlink.Link) error {
		a, b, err := vethEnds(h, hostSide, h, adapterSide, func() error {
			if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostSide, Group: group}, PeerName: adapterSide}); err != nil {
				return fmt.Errorf("creating the management interface (veth %s <-> %s): %w", hostSide, adapterSide, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := h.LinkSetMaster(a, br); err != nil {
			return fmt.Errorf("attaching %s to the management bridge %s: %w", hostSide, bridge, err)
		}
		for _, l := range []netlink.Link{a, b} {
			if err := h.LinkSetUp(l); err != nil {
				return fmt.Errorf("setting %s up: %w", l.Attrs().Name, err)
			}
		}
		return nil
	})
}

// Reattach makes an existing host-side interface (a VM's management tap)
// a port of the management bridge again, and up. One that is gone is not
// an error: its VM has stopped.
func Reattach(hostSide, bridge string) error {
	return onHostLink(hostSide, func(h *netlink.Handle, l netlink.Link) error {
		br, err := h.LinkByName(bridge)
		if err != nil {
			return fmt.Errorf("the management bridge %s is missing (apply the lab again to make it): %w", bridge, err)
		}
		if l.Attrs().MasterIndex != br.Attrs().Index {
			if err := h.LinkSetMaster(l, br); err != nil {
				return fmt.Errorf("attaching %s to the management bridge %s: %w", hostSide, bridge, err)
			}
		}
		return h.LinkSetUp(l)
	})
}
