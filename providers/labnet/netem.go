package labnet

import (
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
)

// ProbeNetem tells whether this kernel has the netem qdisc, by adding one
// to a veth in a namespace of its own. It answers nil when it cannot tell
// (not root, no namespace): an apply that needs netem will say.
func ProbeNetem() error {
	return onProbePair("lfprobe", func(h *netlink.Handle, a, _ netlink.Link) error {
		q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: a.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
			netlink.NetemQdiscAttrs{Latency: 1000})
		if err := h.QdiscAdd(q); err != nil {
			return fmt.Errorf("this kernel has no netem qdisc (sch_netem; adding one answered %q), so delay, jitter, loss, duplicate and corrupt cannot be emulated here; rate (tbf) works", err)
		}
		return nil
	})
}

// onProbePair runs a probe of a kernel feature on a veth pair (probe0,
// probe1) in a namespace of its own, named prefix and the pid (each probe
// its own prefix: two may run at once), removed afterwards. What keeps
// the pair from being made (not root) answers nil: the probe cannot tell.
func onProbePair(prefix string, probe func(h *netlink.Handle, a, b netlink.Link) error) error {
	if os.Geteuid() != 0 {
		return nil
	}
	name := fmt.Sprintf("%s%d", prefix, os.Getpid())
	DeleteNetns(name) // left by a process of this pid killed mid-probe
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
	return probe(h, a, b)
}
