package labnet

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A wire joins two ports without a bridge: each port's ingress redirects
// every frame to the other port's egress (tc clsact, a match-all u32
// filter with a mirred action). Deleting one costs two qdisc deletes,
// where deleting a bridge costs the kernel an RCU grace period (about
// 17 ms) under its rtnl lock, even inside a batch. Frames a bridge keeps
// to itself (LLDP, LACP, STP: 01:80:c2:00:00:0x) cross a wire as they
// cross a cable.

// clsact is the clsact qdisc of the interface with index link.
func clsact(link int) *netlink.Clsact {
	return &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: link, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
}

// A tag says whose redirect a port holds: 28 bits, kept as the filter's
// priority (the high 16) and its u32 node number (the low 12), both of
// which the kernel reports back. Neither may be 0: Tag makes a tag of
// any number.
func Tag(v uint32) uint32 {
	v &= 0xfffffff
	if v&0xfff == 0 {
		v |= 1
	}
	if v>>12 == 0 {
		v |= 1 << 12
	}
	return v
}

// tagFilter is where a tag (made by Tag) goes in the filter.
func tagFilter(tag uint32) (prio uint16, handle uint32) {
	return uint16(tag >> 12), 0x800<<20 | tag&0xfff // u32 handle 800::node
}

// Redirect makes every frame that enters from leave by to, with tag (the
// link's, made by Tag) telling whose redirect it is. With clean, whatever from's
// ingress held before goes first; without, the caller knows it holds no
// filter (Redirected said so).
func Redirect(h *netlink.Handle, from, to netlink.Link, tag uint32, clean bool) error {
	if clean {
		if _, err := Unredirect(h, from); err != nil {
			return err
		}
	}
	if err := h.QdiscAdd(clsact(from.Attrs().Index)); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("adding a clsact qdisc to %s: %w", from.Attrs().Name, err)
	}
	prio, handle := tagFilter(tag)
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: from.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS, Priority: prio, Handle: handle, Protocol: unix.ETH_P_ALL},
		RedirIndex:  to.Attrs().Index,
	}
	if err := h.FilterAdd(f); err != nil {
		return fmt.Errorf("redirecting %s to %s (tc u32 filter, mirred action): %w", from.Attrs().Name, to.Attrs().Name, err)
	}
	return nil
}

// Unredirect removes l's clsact qdisc, and every ingress filter with it.
// It tells whether there was one; an interface without one, or gone, is
// no error.
func Unredirect(h *netlink.Handle, l netlink.Link) (bool, error) {
	err := h.QdiscDel(clsact(l.Attrs().Index))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENODEV):
		return false, nil
	}
	return false, fmt.Errorf("removing the clsact qdisc (and its redirect) of %s: %w", l.Attrs().Name, err)
}

// Redirected says where l's ingress is redirected and with which tag.
// The tag is 0 when l's ingress holds anything but the one filter
// Redirect makes (nothing, or another filter beside it: not a wire's);
// the index is 0 when the interface it went to is gone. filtered tells
// whether l's ingress holds any filter at all.
func Redirected(h *netlink.Handle, l netlink.Link) (index int, tag uint32, filtered bool, err error) {
	fs, err := h.FilterList(l, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			return 0, 0, false, nil // no clsact qdisc
		}
		return 0, 0, false, err
	}
	if len(fs) == 0 {
		return 0, 0, false, nil
	}
	// u32 lists its hash table (800:, no action) beside the key that
	// holds the redirect (800::node): the wire's filter is those two, at
	// one priority.
	var key *netlink.U32
	for _, f := range fs {
		u, ok := f.(*netlink.U32)
		if !ok {
			return 0, 0, true, nil
		}
		if len(u.Actions) == 0 {
			continue
		}
		if key != nil || len(u.Actions) != 1 {
			return 0, 0, true, nil
		}
		if _, ok := u.Actions[0].(*netlink.MirredAction); !ok {
			return 0, 0, true, nil
		}
		key = u
	}
	if key == nil {
		return 0, 0, true, nil
	}
	for _, f := range fs {
		if f.Attrs().Priority != key.Priority {
			return 0, 0, true, nil
		}
	}
	return key.RedirIndex, uint32(key.Priority)<<12 | key.Handle&0xfff, true, nil
}

// ProbeMirred tells whether this kernel can make wires (clsact, u32,
// mirred), by making one between a veth pair in a namespace of its own.
// It answers nil when it cannot tell (not root): the apply will say.
func ProbeMirred() error {
	return onProbePair("lfprobew", func(h *netlink.Handle, a, b netlink.Link) error {
		if err := Redirect(h, a, b, 0xabcdef1, false); err != nil {
			return err
		}
		if i, tag, _, err := Redirected(h, a); err != nil || i != b.Attrs().Index || tag != 0xabcdef1 {
			return fmt.Errorf("a redirect from probe0 to probe1 tagged %x reads back as ifindex %d tagged %x (%v)", 0xabcdef1, i, tag, err)
		}
		return nil
	})
}
