package link_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/labform/labform/planner"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestSystem_wireCarriesLinkLocalFrames: a frame to LLDP's address
// (01:80:c2:00:00:0e), which a Linux bridge never forwards, crosses a wire
// from one node to the other, as it crosses a cable: routing labs run
// LLDP and LACP between their nodes.
func TestSystem_wireCarriesLinkLocalFrames(t *testing.T) {
	requireWires(t)
	l := newNetLab(t)
	l.Write(twoHosts + "link \"l\" {\n  endpoints = [container.a.port[0], container.b.port[0]]\n}\n")
	l.Apply(planner.NormalMode)
	_, nsA := l.container("container.a")
	_, nsB := l.container("container.b")
	const lldp = 0x88cc
	recv, _ := packetSocket(t, nsB, "eth0", lldp)
	send, ifindex := packetSocket(t, nsA, "eth0", lldp)
	dst := net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}
	payload := []byte("labform wire link-local probe")
	frame := append(append(append(append([]byte{}, dst...), 0x02, 0, 0, 0, 0, 1), 0x88, 0xcc), payload...)
	to := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6, Protocol: htons(lldp)}
	copy(to.Addr[:], dst)
	if err := unix.Sendto(send, frame, 0, to); err != nil {
		t.Fatalf("sending the frame from a: %v", err)
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(recv, buf, 0)
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			t.Fatalf("receiving in b: %v", err)
		}
		if bytes.Contains(buf[:n], payload) {
			return
		}
	}
	t.Fatal("the frame to 01:80:c2:00:00:0e sent from a never reached b over the wire")
}

// packetSocket opens an AF_PACKET socket for ethertype proto on iface in
// the network namespace at path, with a short receive timeout; it is
// closed at the end of the test.
func packetSocket(t *testing.T, path, iface string, proto uint16) (int, int) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatalf("%s in %s: %v", iface, path, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(proto)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifc.Index}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return fd, ifc.Index
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
