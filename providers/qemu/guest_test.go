package qemu

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers/link"
)

// guestCache keeps Debian's cloud kernel between runs (26 MB).
const guestCache = "/var/cache/labform-test"

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
	systest.Require(t, "apt-get", "apt-cache", "dpkg-deb", "busybox")
	out, err := exec.Command("apt-cache", "depends", "linux-image-cloud-amd64").Output()
	m := regexp.MustCompile(`Depends: (linux-image-(\S+)-cloud-amd64)`).FindStringSubmatch(string(out))
	if err != nil || m == nil {
		t.Fatalf("apt-cache depends linux-image-cloud-amd64: %v: %s (run apt-get update)", err, out)
	}
	pkg, abi := m[1], m[2]+"-cloud-amd64"
	dir := filepath.Join(guestCache, abi)
	kernel = filepath.Join(dir, "boot", "vmlinuz-"+abi)
	if _, err := os.Stat(kernel); err != nil {
		os.MkdirAll(guestCache, 0o755)
		debs, _ := filepath.Glob(filepath.Join(guestCache, pkg+"_*.deb"))
		if len(debs) == 0 {
			cmd := exec.Command("apt-get", "download", pkg)
			cmd.Dir = guestCache
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("apt-get download %s: %v: %s", pkg, err, out)
			}
			debs, _ = filepath.Glob(filepath.Join(guestCache, pkg+"_*.deb"))
		}
		if len(debs) == 0 {
			t.Fatalf("apt-get download %s left no .deb in %s", pkg, guestCache)
		}
		if out, err := exec.Command("dpkg-deb", "-x", debs[0], dir).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x: %v: %s", err, out)
		}
	}
	mods := map[string]string{}
	filepath.Walk(filepath.Join(dir, "lib", "modules"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			mods[strings.TrimSuffix(filepath.Base(p), ".ko")] = p
		}
		return nil
	})
	bb, _ := exec.LookPath("busybox")
	files := []struct {
		name string
		mode int64
		src  string
		data []byte
	}{{name: "init", mode: 0o755, data: []byte(init)}, {name: "bin/busybox", mode: 0o755, src: bb}}
	for _, mod := range modules {
		if mods[mod] == "" {
			t.Fatalf("module %s is not in %s", mod, dir)
		}
		files = append(files, struct {
			name string
			mode int64
			src  string
			data []byte
		}{name: "lib/" + mod + ".ko", mode: 0o644, src: mods[mod]})
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	w := cpio.NewWriter(gz)
	for _, d := range []string{"bin", "lib", "proc", "sys", "dev"} {
		w.WriteHeader(&cpio.Header{Name: d, Mode: cpio.TypeDir | 0o755})
	}
	for _, f := range files {
		data := f.data
		if f.src != "" {
			if data, err = os.ReadFile(f.src); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteHeader(&cpio.Header{Name: f.name, Mode: cpio.TypeReg | cpio.FileMode(f.mode), Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	w.Close()
	gz.Close()
	initrd = filepath.Join(t.TempDir(), "initrd.gz")
	if err := os.WriteFile(initrd, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return kernel, initrd
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
