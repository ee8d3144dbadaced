package labnet

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labform/labform/providers"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where network namespaces are pinned.
const Dir = "/var/run/netns"

// CreateNetns creates and pins a network namespace with its loopback up.
// The calling goroutine's thread enters it for a moment, so the thread is
// locked and put back.
func CreateNetns(name string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if err != nil {
		netns.Set(orig)
		return fmt.Errorf("creating network namespace %s: %w", name, err)
	}
	defer ns.Close()
	if err := netns.Set(orig); err != nil {
		return err
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// EnsureNetns makes sure the named namespace exists.
func EnsureNetns(name string) error {
	if _, err := os.Stat(filepath.Join(Dir, name)); err == nil {
		return nil
	}
	return CreateNetns(name)
}

// DeleteNetns unpins a namespace; the kernel frees it once unused.
func DeleteNetns(name string) error {
	path := filepath.Join(Dir, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	err := netns.DeleteNamed(name)
	if errors.Is(err, unix.EINVAL) {
		// The file is no longer a mount: a labform killed between the
		// unmount and the remove left it. Finish that delete.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return err
}

// HandleIn opens a netlink handle in the named namespace: a route socket
// only (links, addresses, routes, qdiscs), where the library's default
// opens three, each through a switch of the thread's namespace.
func HandleIn(name string) (*netlink.Handle, netns.NsHandle, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nil, ns, fmt.Errorf("network namespace %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, ns, err
	}
	return h, ns, nil
}

// AddPorts creates a veth pair per port: eth<n> in the container's
// namespace, labSide(n) in the lab's, both up.
func AddPorts(ctrNetns, labNetns string, ports int, labSide func(int) string) error {
	ctrH, ctrNs, err := HandleIn(ctrNetns)
	if err != nil {
		return err
	}
	defer ctrH.Close()
	defer ctrNs.Close()
	return addPairs(ctrH, ctrNs, labNetns, ports, labSide, func(n int) string { return fmt.Sprintf("eth%d", n) })
}

// AddMissingPorts creates the ports among 0..ports-1 whose lab side is
// gone (a veth deleted by hand on either side takes its peer with it),
// leaving the others and their links alone.
func AddMissingPorts(ctrNetns, labNetns string, ports int, labSide func(int) string) error {
	labH, labNs, err := HandleIn(labNetns)
	if err != nil {
		return err
	}
	labNs.Close() // an open namespace handle would keep the namespace alive
	var missing []int
	for n := 0; n < ports; n++ {
		if _, err := labH.LinkByName(labSide(n)); err != nil {
			missing = append(missing, n)
		}
	}
	labH.Close()
	if len(missing) == 0 {
		return nil
	}
	ctrH, ctrNs, err := HandleIn(ctrNetns)
	if err != nil {
		return err
	}
	defer ctrH.Close()
	defer ctrNs.Close()
	for _, n := range missing {
		inside := fmt.Sprintf("eth%d", n)
		if l, err := ctrH.LinkByName(inside); err == nil {
			ctrH.LinkDel(l) // not a veth of ours any more: make room
		}
		err := addPairs(ctrH, ctrNs, labNetns, 1, func(int) string { return labSide(n) }, func(int) string { return inside })
		if err != nil {
			return err
		}
	}
	return nil
}

// AddHostPorts creates a veth pair per port between the host's namespace
// (hostSide(n), where a VirtualBox bridged adapter attaches) and the
// lab's (labSide(n), which links join), both up.
func AddHostPorts(labNetns string, ports int, labSide, hostSide func(int) string) error {
	runtime.LockOSThread()
	hostNs, err := netns.Get()
	runtime.UnlockOSThread()
	if err != nil {
		return err
	}
	defer hostNs.Close()
	h, err := netlink.NewHandleAt(hostNs, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	return addPairs(h, hostNs, labNetns, ports, labSide, hostSide)
}

func addPairs(otherH *netlink.Handle, otherNs netns.NsHandle, labNetns string, ports int, labSide, otherSide func(int) string) error {
	labH, labNs, err := HandleIn(labNetns)
	if err != nil {
		return err
	}
	labNs.Close() // an open namespace handle would keep the namespace alive
	defer labH.Close()
	for n := 0; n < ports; n++ {
		name, peer := labSide(n), otherSide(n)
		if old, err := labH.LinkByName(name); err == nil {
			labH.LinkDel(old) // left by an interrupted create
		}
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer, PeerNamespace: netlink.NsFd(int(otherNs))}
		if err := labH.LinkAdd(veth); err != nil {
			return fmt.Errorf("creating port %d (veth %s <-> %s): %w", n, name, peer, err)
		}
		for _, side := range []struct {
			h    *netlink.Handle
			name string
		}{{labH, name}, {otherH, peer}} {
			l, err := side.h.LinkByName(side.name)
			if err == nil {
				err = side.h.LinkSetUp(l)
			}
			if err != nil {
				return fmt.Errorf("setting %s up: %w", side.name, err)
			}
		}
	}
	return nil
}

// Links lists the interface names in the lab's namespace (one netlink
// dump for a whole refresh), without the doomed ones.
func Links(labNetns string) (map[string]bool, error) {
	if _, err := os.Stat(filepath.Join(Dir, labNetns)); errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	h, ns, err := HandleIn(labNetns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, l := range links {
		if l.Attrs().Group != DoomedGroup {
			out[l.Attrs().Name] = true
		}
	}
	return out, nil
}

// SyncAddresses makes each interface's addresses what want says, and the
// routes too; routes in prior that are no longer wanted are removed.
func SyncAddresses(ctrNetns string, want map[string][]string, routes, priorRoutes map[string]string) error {
	h, ns, err := HandleIn(ctrNetns)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	for _, ifname := range slices.Sorted(maps.Keys(want)) {
		link, err := h.LinkByName(ifname)
		if err != nil {
			return fmt.Errorf("addresses: the container has no interface %s (its ports are eth0..eth<ports-1>)", ifname)
		}
		wanted := map[string]*netlink.Addr{}
		for _, cidr := range want[ifname] {
			a, err := netlink.ParseAddr(cidr)
			if err != nil {
				return fmt.Errorf("addresses.%s: %q is not an address with a prefix length (10.0.0.2/24, 2001:db8::2/64)", ifname, cidr)
			}
			wanted[a.IPNet.String()] = a
		}
		// Remove first, then add: removing an IPv4 primary address takes
		// its secondaries in the same subnet with it, so a new address
		// added before the old one goes would vanish too.
		have, err := h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		for _, a := range have {
			if a.IP.IsLinkLocalUnicast() || wanted[a.IPNet.String()] != nil {
				continue
			}
			if err := h.AddrDel(link, &a); err != nil {
				return fmt.Errorf("removing %s from %s: %w", a.IPNet, ifname, err)
			}
		}
		for _, cidr := range want[ifname] {
			a, _ := netlink.ParseAddr(cidr)
			if err := h.AddrReplace(link, a); err != nil {
				return fmt.Errorf("adding %s to %s: %w", cidr, ifname, err)
			}
		}
	}
	for dest := range priorRoutes {
		if _, keep := routes[dest]; keep {
			continue
		}
		if r, err := parseRoute(dest, priorRoutes[dest]); err == nil {
			h.RouteDel(r) // already gone is fine
		}
	}
	for _, dest := range slices.Sorted(maps.Keys(routes)) {
		r, err := parseRoute(dest, routes[dest])
		if err != nil {
			return err
		}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("route %s via %s: %w (is the gateway on a connected subnet?)", dest, routes[dest], err)
		}
	}
	return nil
}

func parseRoute(dest, gw string) (*netlink.Route, error) {
	ip := net.ParseIP(gw)
	if ip == nil {
		return nil, fmt.Errorf("routes.%s: the gateway %q is not an IP address", dest, gw)
	}
	r := &netlink.Route{Gw: ip}
	if dest != "default" {
		_, n, err := net.ParseCIDR(dest)
		if err != nil {
			return nil, fmt.Errorf("routes: %q is neither default nor a CIDR", dest)
		}
		r.Dst = n
	} else if ip.To4() == nil {
		r.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	return r, nil
}

// DeletePorts removes the lab-side ends of a container's ports (the names
// starting with prefix), and with each its peer, before returning. They go
// in one batch: marked doomed, then deleted as a group, so the kernel waits
// for its RCU grace period once for all of them instead of once per port.
func DeletePorts(labNetns, prefix string) error {
	if _, err := os.Stat(filepath.Join(Dir, labNetns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	h, ns, err := HandleIn(labNetns)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return err
	}
	var names []string
	for _, l := range links {
		if name := l.Attrs().Name; len(name) > len(prefix) && name[:len(prefix)] == prefix {
			if err := h.LinkSetGroup(l, DoomedGroup); err != nil && !isGone(err) {
				return fmt.Errorf("marking port %s for deletion: %w", name, err)
			}
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	if err := deleteGroup(ns, DoomedGroup); err != nil {
		return fmt.Errorf("deleting ports %s: %w", strings.Join(names, ", "), err)
	}
	return nil
}

// locks holds one lock per lab: creating and removing a lab's namespace
// (exclusive) is serialized with adding ports to it (shared: many at once),
// across every provider of the process. Labs do not wait for each other.
var locks sync.Map // lab name -> *sync.RWMutex

func lockOf(lab string) *sync.RWMutex {
	m, _ := locks.LoadOrStore(lab, &sync.RWMutex{})
	return m.(*sync.RWMutex)
}

// Lock takes the lab's namespace lock exclusively; Unlock releases it.
func Lock(lab string) { lockOf(lab).Lock() }

// Unlock releases the lock Lock took.
func Unlock(lab string) { lockOf(lab).Unlock() }

// InLab runs fn with the lab's namespace made sure to exist and kept from
// removal, without keeping other InLab calls of the lab from running at
// the same time (containers add their ports in parallel).
func InLab(lab string, fn func() error) error {
	m := lockOf(lab)
	for {
		m.RLock()
		if _, err := os.Stat(filepath.Join(Dir, providers.LabNetns(lab))); err == nil {
			defer m.RUnlock()
			return fn()
		}
		m.RUnlock()
		m.Lock()
		err := EnsureNetns(providers.LabNetns(lab))
		m.Unlock()
		if err != nil {
			return err
		}
	}
}

// LabNetns is the name of a lab's own namespace: bridges and the lab side
// of every port live there.
func LabNetns(lab string) string { return "lf-" + lab }

// RemoveLabIfEmpty removes the lab namespace once it holds only lo and
// interfaces marked doomed, and nothing holds it (a firewall chain with
// target = lab). The kernel removes what is left in it in one batch. Call
// it with the lab's lock held.
func RemoveLabIfEmpty(lab string) {
	holds, _ := os.ReadDir(holdDir(lab))
	if len(holds) == 0 && onlyDoomed(providers.LabNetns(lab)) {
		DeleteNetns(providers.LabNetns(lab))
		os.Remove(holdDir(lab))
	}
}

// HoldsDir is where what keeps a lab namespace alive without an
// interface in it is recorded, one file per holder, so that the holds
// survive labform's exit and are seen by the next run.
const HoldsDir = "/run/labform/holds"

func holdDir(lab string) string { return filepath.Join(HoldsDir, providers.LabNetns(lab)) }

// Hold keeps the lab namespace from being removed while who (a stable
// name, such as a hash of a resource's address) lives in it.
func Hold(lab, who string) error {
	if err := os.MkdirAll(holdDir(lab), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(holdDir(lab), who), nil, 0o644)
}

// Release drops who's hold; call RemoveLabIfEmpty after it.
func Release(lab, who string) {
	os.Remove(filepath.Join(holdDir(lab), who))
}

// PortPrefix is the start of the lab-side names of a node's ports: from
// the node's object ID (providers/identity.go), short enough for Linux's
// 15-character interface names.
func PortPrefix(id string) string { return "lfp" + id[:8] }

// PortName is the lab-side name of a node's port n (at most 15 characters
// for n < 10000).
func PortName(id string, n int) string { return PortPrefix(id) + strconv.Itoa(n) }

// ContainerNetns is the name of a container's pinned network namespace
// (under Dir), from its object ID.
func ContainerNetns(id string) string { return "lfc-" + id[:10] }

// ReadAddresses returns the addresses (without link-local ones) of the
// named interfaces, and the gateway of each of the given route
// destinations ("default" or a CIDR) that is present, as labform set them.
func ReadAddresses(nsName string, ifaces []string, dests []string) (map[string][]string, map[string]string, error) {
	h, ns, err := HandleIn(nsName)
	if err != nil {
		return nil, nil, err
	}
	defer ns.Close()
	defer h.Close()
	addrs := map[string][]string{}
	for _, ifname := range ifaces {
		link, err := h.LinkByName(ifname)
		if err != nil {
			continue // a missing interface has no addresses
		}
		list, err := h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range list {
			if !a.IP.IsLinkLocalUnicast() {
				addrs[ifname] = append(addrs[ifname], a.IPNet.String())
			}
		}
	}
	routes := map[string]string{}
	for _, dest := range dests {
		var filter netlink.Route
		mask := uint64(netlink.RT_FILTER_DST)
		family := netlink.FAMILY_V4
		if dest != "default" {
			_, n, err := net.ParseCIDR(dest)
			if err != nil {
				continue
			}
			filter.Dst = n
			if n.IP.To4() == nil {
				family = netlink.FAMILY_V6
			}
		}
		for _, fam := range []int{family, netlink.FAMILY_V6} {
			rs, err := h.RouteListFiltered(fam, &filter, mask)
			if err != nil {
				return nil, nil, err
			}
			for _, r := range rs {
				if r.Gw != nil && (dest != "default" || r.Dst == nil || r.Dst.IP.IsUnspecified()) {
					routes[dest] = r.Gw.String()
				}
			}
			if dest != "default" {
				break
			}
		}
	}
	return addrs, routes, nil
}

// RemoveLabRemains drops every hold on the lab namespace and removes it
// once empty (RemoveLabIfEmpty), for a lab whose state holds no object
// any more: what a destroy cut short (kill -9 between its last record and
// the namespace's removal) left behind, which no object's delete would
// come back for.
//
// The lab-side ports of containers destroyed a moment ago may still be
// there: the kernel tears a deleted namespace down later, in a work queue,
// and takes their veths with it then (seconds on a loaded machine). Those
// are waited for, up to portsGoneWait; an interface of any other name is
// not labform's, and keeps the namespace.
func RemoveLabRemains(lab string) {
	Lock(lab)
	defer Unlock(lab)
	os.RemoveAll(holdDir(lab))
	for deadline := time.Now().Add(portsGoneWait); ; time.Sleep(50 * time.Millisecond) {
		if onlyDoomed(providers.LabNetns(lab)) {
			RemoveLabIfEmpty(lab)
			return
		}
		if time.Now().After(deadline) || !onlyPorts(providers.LabNetns(lab)) {
			return
		}
	}
}

// portsGoneWait bounds the wait for the ports of deleted namespaces.
const portsGoneWait = 10 * time.Second
