package labnet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/labform/labform/providers"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DoomedGroup is the interface group (`ip link set DEV group N`) that
// marks an interface of a lab namespace as labform's to delete. Deleting
// interfaces one by one costs an RCU grace period each in the kernel
// (17 ms for a veth); a group is deleted in one batch, and a namespace
// removed with everything in it too. An interface left doomed by an
// interrupted run is deleted by the next one that reaps the namespace.
const DoomedGroup = 0x6c66 // "lf"

// Doom marks the named interfaces of a namespace as doomed: the lab
// namespace's removal, or the next reap, deletes them. Names already gone
// are skipped. It costs no grace period.
func Doom(nsName string, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(Dir, nsName)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	h, ns, err := HandleIn(nsName)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	for _, name := range names {
		l, err := h.LinkByName(name)
		if err != nil {
			continue // gone already
		}
		if err := h.LinkSetGroup(l, DoomedGroup); err != nil && !isGone(err) {
			return fmt.Errorf("marking %s for deletion in %s: %w", name, nsName, err)
		}
	}
	return nil
}

// Reap deletes the doomed interfaces of a namespace (what an interrupted
// whole-lab destroy left), in one batch.
func Reap(nsName string) error {
	if _, err := os.Stat(filepath.Join(Dir, nsName)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", nsName, err)
	}
	defer ns.Close()
	if err := deleteGroup(ns, DoomedGroup); err != nil {
		return fmt.Errorf("deleting the doomed interfaces of %s: %w", nsName, err)
	}
	return nil
}

// deleteGroup deletes every interface of group in the namespace with one
// RTM_DELLINK (`ip link delete group N`): the kernel unregisters them in
// one batch. No interface in the group is not an error.
func deleteGroup(ns netns.NsHandle, group uint32) error {
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer s.Close()
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr), Type: unix.RTM_DELLINK, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK},
		Sockets:  map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}},
	}
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_GROUP, nl.Uint32Attr(group)))
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil && !isGone(err) {
		return err
	}
	return nil
}

// isGone tells whether a netlink error says the interface is not there.
func isGone(err error) bool {
	var le netlink.LinkNotFoundError
	return errors.Is(err, unix.ENODEV) || errors.As(err, &le)
}

// onlyDoomed reports whether the namespace holds nothing but lo and
// links marked doomed (or is gone).
func onlyDoomed(nsName string) bool { return holdsOnly(nsName, false) }

// onlyPorts reports whether the namespace holds nothing but lo, doomed
// links and nodes' lab-side ports (PortPrefix).
func onlyPorts(nsName string) bool { return holdsOnly(nsName, true) }

func holdsOnly(nsName string, ports bool) bool {
	if _, err := os.Stat(filepath.Join(Dir, nsName)); errors.Is(err, os.ErrNotExist) {
		return true
	}
	h, ns, err := HandleIn(nsName)
	if err != nil {
		return false
	}
	defer ns.Close()
	defer h.Close()
	links, err := h.LinkList()
	for i := 0; i < 5 && errors.Is(err, netlink.ErrDumpInterrupted); i++ {
		links, err = h.LinkList()
	}
	if err != nil {
		return false
	}
	for _, l := range links {
		a := l.Attrs()
		if a.Name != "lo" && a.Group != DoomedGroup && !(ports && strings.HasPrefix(a.Name, "lfp")) {
			return false
		}
	}
	return true
}

// RemoveLab removes the lab namespace with everything in it, at once,
// unless something holds it (a firewall chain with target = lab): the
// first step of a destroy of the whole lab, so that the kernel tears its
// bridges down while the nodes are being stopped. It reports whether the
// namespace is gone.
func RemoveLab(lab string) (bool, error) {
	Lock(lab)
	defer Unlock(lab)
	if holds, _ := os.ReadDir(holdDir(lab)); len(holds) > 0 {
		return false, nil
	}
	if err := DeleteNetns(providers.LabNetns(lab)); err != nil {
		return false, fmt.Errorf("removing the lab namespace %s: %w", providers.LabNetns(lab), err)
	}
	os.Remove(holdDir(lab))
	return true, nil
}
