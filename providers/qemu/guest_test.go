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
