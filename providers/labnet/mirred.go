package labnet

import (
	"errors"
	"fmt"
	"os"
	"slices"
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

// Redirect makes every frame that enters from leave by to, with tag (the
// link's, kept as the filter's priority, never 0) telling whose redirect
// it is. With clean, whatever from's ingress held before goes first;
// without, the caller knows it holds no filter (Redirected said so).
func Redirect(h *netlink.Handle, from, to netlink.Link, tag uint16, clean bool) error {
	if clean {
		Unredirect(h, from)
	}
	if err := h.QdiscAdd(clsact(from.Attrs().Index)); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("adding a clsact qdisc to %s: %w", from.Attrs().Name, err)
	}
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: from.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS, Priority: tag, Protocol: unix.ETH_P_ALL},
		RedirIndex:  to.Attrs().Index,
	}
	if err := h.FilterAdd(f); err != nil {
		return fmt.Errorf("redirecting %s to %s (tc u32 filter, mirred action): %w", from.Attrs().Name, to.Attrs().Name, err)
	}
	return nil
}

// Unredirect removes l's clsact qdisc, and its redirect with it. An
// interface without one is left as it is.
func Unredirect(h *netlink.Handle, l netlink.Link) {
	h.QdiscDel(clsact(l.Attrs().Index))
}

// Redirected says where l's ingress is redirected and with which tag.
// The tag is 0 when l has no redirect in the one-filter form Redirect
// makes; the index is 0 when the interface it went to is gone. filtered
// tells whether l's ingress holds any filter at all.
func Redirected(h *netlink.Handle, l netlink.Link) (index int, tag uint16, filtered bool, err error) {
	fs, err := h.FilterList(l, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			return 0, 0, false, nil // no clsact qdisc
		}
		return 0, 0, false, err
	}
	// u32 lists its hash table as a filter of its own (no action) beside
	// the key that holds the redirect.
	found := false
	for _, f := range fs {
		u, ok := f.(*netlink.U32)
		if !ok || !slices.ContainsFunc(u.Actions, func(a netlink.Action) bool { _, m := a.(*netlink.MirredAction); return m }) {
			continue
		}
		if found {
			return 0, 0, true, nil // more than one: not labform's
		}
		found, index, tag = true, u.RedirIndex, u.Priority
	}
	return index, tag, len(fs) > 0, nil
}

// ProbeMirred tells whether this kernel can make wires (clsact, u32,
// mirred), by making one between a veth pair in a namespace of its own.
// It answers nil when it cannot tell (not root): the apply will say.
func ProbeMirred() error {
	if os.Geteuid() != 0 {
		return nil
	}
	name := fmt.Sprintf("lfprobew%d", os.Getpid()) // not ProbeNetem's: the two may run at once
	if err := CreateNetns(name); err != nil {
		return nil
	}
	defer DeleteNetns(name)
	h, ns, err := HandleIn(name)
	if err != nil {
		return nil
	}
	defer ns.Close()
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, PeerName: "probe1"}); err != nil {
		return nil
	}
	a, err := h.LinkByName("probe0")
	if err != nil {
		return nil
	}
	b, err := h.LinkByName("probe1")
	if err != nil {
		return nil
	}
	if err := Redirect(h, a, b, 1, false); err != nil {
		return err
	}
	if i, _, _, err := Redirected(h, a); err != nil || i != b.Attrs().Index {
		return fmt.Errorf("a redirect from probe0 to probe1 reads back as ifindex %d (%v)", i, err)
	}
	return nil
}
