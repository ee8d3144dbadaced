package qemu

import (
	"bytes"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/mgmtnet"
)

// TestSystem_managementNIC boots a guest whose only NIC is its management
// NIC (adapters = 0): the guest sets its mgmt_address on eth0 (as a guest
// must: labform cannot reach inside a VM) and pings the host's address,
// and the host pings the guest. Destroy removes the bridge and the tap.
func TestSystem_managementNIC(t *testing.T) {
	l := newVMLab(t, "m")
	l.Reg.Register(mgmtnet.New())
	kernel, initrd := guestKit(t)
	var subnet netip.Prefix
	rng := rand.New(rand.NewSource(int64(os.Getpid())))
	for try := 0; ; try++ {
		subnet = netip.MustParsePrefix(fmt.Sprintf("198.%d.%d.0/24", 18+rng.Intn(2), rng.Intn(256)))
		if r, err := mgmtnet.OverlappingRoute(subnet, ""); err != nil {
			t.Fatal(err)
		} else if r == "" {
			break
		}
		if try > 50 {
			t.Fatal("no free test subnet")
		}
	}
	bridge := providers.ManagementBridge(l.LabID())
	t.Cleanup(func() { exec.Command("ip", "link", "del", bridge).Run() }) // runs after newVMLab's destroy
	host := providers.ManagementHostAddress(subnet)
	guest := host.Next().Next().Next().Next() // .5
	src := fmt.Sprintf(`lab {
  name             = %q
  allow_host_paths = true # the kernel is the host's cached Debian kernel
  management {
    subnet = %q
  }
}
vm "g" {
  provider     = qemu
  accel        = "tcg"
  memory       = 128
  adapters     = 0
  adapter_type = "virtio-net-pci"
  console      = "none"
  mgmt_address = %q
  kernel       = %q
  initrd       = %q
  kernel_args  = "console=ttyS0 panic=-1 quiet probe.ip=%s/24 probe.peer=%s"
  extra_args   = "-serial file:%%lab-path%%/g.serial -no-reboot"
}
`, l.Name, subnet, guest, kernel, initrd, guest, host)
	if err := os.WriteFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	l.Apply(planner.NormalMode)
	tap := providers.ManagementPort(l.ID("vm.g"))
	if !mgmtnet.Attached(bridge, tap) {
		t.Fatalf("the management tap %s is not on the bridge %s", tap, bridge)
	}
	serial := filepath.Join(l.Dir, "g.serial")
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, _ := os.ReadFile(serial)
		if bytes.Contains(b, []byte("GUEST-PING-OK")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guest did not ping the host's management address %s within 90 s:\n%s", host, tailString(b, 2000))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out, err := exec.Command("busybox", "ping", "-c", "1", "-W", "3", guest.String()).CombinedOutput(); err != nil {
		t.Errorf("the host cannot ping the guest's management address %s: %v\n%s", guest, err, out)
	}
	l.Apply(planner.DestroyMode)
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err != nil {
		t.Fatal(err)
	} else if bytes.Contains(out, []byte(bridge)) || bytes.Contains(out, []byte(tap)) {
		t.Errorf("after destroy the host still has %s or %s:\n%s", bridge, tap, out)
	}
}
