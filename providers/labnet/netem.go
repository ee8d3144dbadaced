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
	name := fmt.Sprintf("lfprobe%d", os.Getpid())
	DeleteNetns(name) // left by a process of this pid killed mid-probe
	if err := CreateNetns(name); err != nil {
		return nil // cannot tell; apply will
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
	l, err := h.LinkByName("probe0")
	if err != nil {
		return nil
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		netlink.NetemQdiscAttrs{Latency: 1000})
	if err := h.QdiscAdd(q); err != nil {
		return fmt.Errorf("this kernel has no netem qdisc (sch_netem; adding one answered %q), so delay, jitter, loss, duplicate and corrupt cannot be emulated here; rate (tbf) works", err)
	}
	return nil
}
