package qemu

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
)

// cdromModules read an ISO 9660 cdrom on QEMU's PIIX IDE (the cloud
// kernel builds them as modules), in order.
var cdromModules = []string{"scsi_common", "scsi_mod", "libata", "ata_piix", "cdrom", "sr_mod", "isofs"}

// cdromInit loads them, waits for /dev/sr0, prints the volume label (the
// primary volume descriptor's, at byte 32808) and mounts the disk to
// print its files between GUEST-CIDATA markers.
const cdromInit = `#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /mnt
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in ` + "scsi_common scsi_mod libata ata_piix cdrom sr_mod isofs" + `; do $B insmod /lib/$m.ko; done
n=0
while [ ! -b /dev/sr0 ] && [ $n -lt 100 ]; do $B sleep 0.2; n=$((n+1)); done
echo "GUEST-LABEL $($B dd if=/dev/sr0 bs=1 skip=32808 count=32 2>/dev/null | $B tr -d ' ')"
if $B mount -t iso9660 -o ro /dev/sr0 /mnt; then
  echo GUEST-CIDATA-BEGIN
  for f in $($B find /mnt -type f | $B sort); do echo "== $f"; $B cat $f; echo; done
  echo GUEST-CIDATA-END
else
  echo GUEST-CIDATA-MOUNT-FAILED
fi
$B sleep 3600
`

// TestSystem_configDisk boots a VM (Debian's kernel, a busybox initramfs,
// under TCG) with file blocks and cloud_init, and reads what the guest
// sees on its config disk from the serial log: the cidata label, the
// NoCloud files and the file's content. A changed content is planned as
// a restart with a line diff, and after apply the guest sees the new file.
func TestSystem_configDisk(t *testing.T) {
	l := newVMLab(t, "c")
	kernel, initrd := guestKitWith(t, cdromInit, cdromModules)
	l.AllowHostPaths = true // the kernel is the host's cached Debian kernel
	os.MkdirAll(filepath.Join(l.Dir, "configs"), 0o755)
	if err := os.WriteFile(filepath.Join(l.Dir, "configs", "daemons"), []byte("zebra=yes\nbgpd=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	frr := func(asn int) string {
		return fmt.Sprintf("hostname r1\\nrouter bgp %d\\n neighbor 10.0.0.2 remote-as 65002\\n", asn)
	}
	vm := func(content string) string {
		return fmt.Sprintf(`
vm "r1" {
  provider    = qemu
  accel       = "tcg"
  memory      = 128
  adapters    = 0
  console     = "none"
  kernel      = %q
  initrd      = %q
  kernel_args = "console=ttyS0 panic=-1 quiet"
  extra_args  = "-serial file:%%lab-path%%/r1.serial -no-reboot"
  file {
    path    = "/etc/frr/frr.conf"
    content = "%s"
    mode    = "0640"
    owner   = "frr:frr"
  }
  file {
    path   = "/etc/frr/daemons"
    source = "configs/daemons"
  }
  cloud_init {
    network_config = "version: 2\n"
  }
}
`, kernel, initrd, content)
	}
	l.Write(vm(frr(65001)))
	l.Apply(planner.NormalMode)
	pid := l.pid("vm.r1")
	out := waitSerial(t, filepath.Join(l.Dir, "r1.serial"), "GUEST-CIDATA-END")
	for _, want := range []string{
		"GUEST-LABEL cidata",
		"== /mnt/meta-data", "== /mnt/user-data", "#cloud-config", `"path": "/etc/frr/frr.conf"`, `"permissions": "0640"`, `"owner": "frr:frr"`,
		"== /mnt/network-config\nversion: 2",
		`"path": "/etc/frr/daemons"`,
		"== /mnt/labform/files/0\nhostname r1\nrouter bgp 65001\n",
		"== /mnt/labform/files/1\nzebra=yes\nbgpd=yes\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the guest's config disk lacks %q; serial:\n%s", want, out)
		}
	}

	// A changed content: a restart, shown as a line diff.
	l.Write(vm(frr(65003)))
	_, plan := l.Plan(planner.NormalMode)
	c := l.change(plan, "vm.r1")
	if c == nil || c.Action != planner.Update || c.Cost != providers.Restart {
		t.Fatalf("a changed file must restart the VM; got %+v", c)
	}
	text := render.Plan(plan, false)
	if !strings.Contains(text, "- router bgp 65001") || !strings.Contains(text, "+ router bgp 65003") || strings.Contains(text, "- hostname r1") {
		t.Errorf("the plan does not show the file's line diff:\n%s", text)
	}
	l.Apply(planner.NormalMode)
	if l.pid("vm.r1") == pid {
		t.Errorf("the VM kept pid %d over a restart", pid)
	}
	out = waitSerial(t, filepath.Join(l.Dir, "r1.serial"), "GUEST-CIDATA-END")
	if !strings.Contains(out, "router bgp 65003") || strings.Contains(out, "router bgp 65001") {
		t.Errorf("after the restart the guest does not see the new file; serial:\n%s", out)
	}

	// A changed source file: refresh finds it, and the plan restarts the VM.
	if err := os.WriteFile(filepath.Join(l.Dir, "configs", "daemons"), []byte("zebra=yes\nbgpd=no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, plan = l.Plan(planner.NormalMode)
	if c := l.change(plan, "vm.r1"); c == nil || c.Cost != providers.Restart || !strings.Contains(c.Reason, "source of its file blocks changed") {
		t.Fatalf("a changed source must restart the VM; got %+v", c)
	}
}

// waitSerial waits up to 120 s for marker in a serial log and returns the
// log.
func waitSerial(t *testing.T, path, marker string) string {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
		if bytes.Contains(b, []byte(marker)) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in %s within 120 s:\n%s", marker, path, tailString(b, 3000))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
