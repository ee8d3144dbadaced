package qemu

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers/link"
)

// virtioModules load virtio-net, in order (the cloud kernel builds them as
// modules).
var virtioModules = []string{"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "failover", "net_failover", "virtio_net"}

const guestInit = `#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in ` + "virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net" + `; do $B insmod /lib/$m.ko; done
ip=$($B sed -n 's/.*probe.ip=\([^ ]*\).*/\1/p' /proc/cmdline)
peer=$($B sed -n 's/.*probe.peer=\([^ ]*\).*/\1/p' /proc/cmdline)
$B ip link set eth0 up
$B ip addr add $ip dev eth0
echo GUEST-UP $ip
n=0
while [ $n -lt 60 ]; do
  if $B ping -c 1 -W 1 $peer >/dev/null 2>&1; then echo GUEST-PING-OK $peer; break; fi
  n=$((n+1))
done
$B sleep 3600
`

// guestKit returns a kernel and a busybox initramfs that brings eth0 up
// and pings a peer: Debian's cloud kernel from apt (downloaded once,
// nothing installed), busybox-static and the virtio-net modules.
func guestKit(t *testing.T) (kernel, initrd string) {
	t.Helper()
	return guestKitWith(t, guestInit, virtioModules)
}

// guestKitWith is guestKit with another /init and other modules (in
// /lib/<name>.ko).
func guestKitWith(t *testing.T, init string, modules []string) (kernel, initrd string) {
	t.Helper()
	return systest.GuestKit(t, init, modules)
}

// TestSystem_twoGuestsPingOverALink boots two VMs (Debian's kernel and a
// busybox initramfs, under TCG) whose ports a link joins, and waits for
// the first to ping the second.
func TestSystem_twoGuestsPingOverALink(t *testing.T) {
	l := newVMLab(t, "p")
	l.Reg.Register(link.New())
	kernel, initrd := guestKit(t)
	l.AllowHostPaths = true // the kernel is the host's cached Debian kernel
	vm := func(name, ip, peer string) string {
		return fmt.Sprintf(`
vm %q {
  provider     = qemu
  accel        = "tcg"
  memory       = 128
  adapters     = 1
  adapter_type = "virtio-net-pci"
  console      = "none"
  kernel       = %q
  initrd       = %q
  kernel_args  = "console=ttyS0 panic=-1 quiet probe.ip=%s probe.peer=%s"
  extra_args   = "-serial file:%%lab-path%%/%s.serial -no-reboot"
}
`, name, kernel, initrd, ip, peer, name)
	}
	l.Write(vm("a", "10.199.0.1/24", "10.199.0.2") + vm("b", "10.199.0.2/24", "10.199.0.1") + `
link "ab" {
  endpoints = [vm.a.port[0], vm.b.port[0]]
}
`)
	l.Apply(planner.NormalMode)
	serial := filepath.Join(l.Dir, "a.serial")
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, _ := os.ReadFile(serial)
		if bytes.Contains(b, []byte("GUEST-PING-OK")) {
			break
		}
		if time.Now().After(deadline) {
			other, _ := os.ReadFile(filepath.Join(l.Dir, "b.serial"))
			t.Fatalf("vm.a did not ping vm.b within 90 s. a.serial:\n%s\nb.serial:\n%s", tailString(b, 2000), tailString(other, 2000))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func tailString(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// carrierInit brings eth0 up and prints its carrier each time it changes.
const carrierInit = `#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in ` + "virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net" + `; do $B insmod /lib/$m.ko; done
$B ip link set eth0 up
prev=none
while true; do
  c=$($B cat /sys/class/net/eth0/carrier 2>/dev/null)
  if [ "$c" != "$prev" ]; then echo GUEST-CARRIER-$c; prev=$c; fi
  $B usleep 50000
done
`

// TestSystem_linkDownPullsTheGuestsCable: a link set down takes carrier
// from a QEMU guest's adapter (QMP set_link; the tap's own state does not
// reach the guest), up gives it back.
func TestSystem_linkDownPullsTheGuestsCable(t *testing.T) {
	l := newVMLab(t, "c")
	l.Reg.Register(link.New())
	kernel, initrd := guestKitWith(t, carrierInit, virtioModules)
	l.AllowHostPaths = true
	lab := func(state string) string {
		return fmt.Sprintf(`
vm "a" {
  provider     = qemu
  accel        = "tcg"
  memory       = 128
  adapters     = 2
  adapter_type = "virtio-net-pci"
  console      = "none"
  kernel       = %q
  initrd       = %q
  kernel_args  = "console=ttyS0 panic=-1 quiet"
  extra_args   = "-serial file:%%lab-path%%/a.serial -no-reboot"
}

link "loop" {
  endpoints = [vm.a.port[0], vm.a.port[1]]
  state     = %q
}
`, kernel, initrd, state)
	}
	serial := filepath.Join(l.Dir, "a.serial")
	// waitFor waits until the serial log has n lines saying the carrier is c.
	waitFor := func(c string, n int, d time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			b, _ := os.ReadFile(serial)
			if bytes.Count(b, []byte("GUEST-CARRIER-"+c+"\r\n"))+bytes.Count(b, []byte("GUEST-CARRIER-"+c+"\n")) >= n {
				return time.Since(start)
			}
			if time.Since(start) > d {
				t.Fatalf("the guest never said GUEST-CARRIER-%s (%d times) within %v:\n%s", c, n, d, tailString(b, 2000))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	l.Write(lab("up"))
	l.Apply(planner.NormalMode)
	waitFor("1", 1, 90*time.Second)

	l.Write(lab("down"))
	l.Apply(planner.NormalMode)
	t.Logf("carrier gone in the guest %v after the apply (the guest looks every 50 ms)", waitFor("0", 1, 10*time.Second))

	l.Write(lab("up"))
	l.Apply(planner.NormalMode)
	t.Logf("carrier back in the guest %v after the apply", waitFor("1", 2, 10*time.Second))
}
