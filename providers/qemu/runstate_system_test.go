package qemu

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/planner"
)

// TestLiveState: the QMP run states that `cont` cannot leave, or that
// leave a dead guest, are drift that only a restart repairs.
func TestLiveState(t *testing.T) {
	for status, want := range map[string]struct{ state, restart string }{
		"running":        {"running", ""},
		"paused":         {"paused", ""},
		"prelaunch":      {"paused", ""},
		"suspended":      {"paused", ""},
		"internal-error": {"internal-error", "internal-error"},
		"shutdown":       {"shutdown", "shutdown"},
		"guest-panicked": {"guest-panicked", "guest-panicked"},
		"io-error":       {"io-error", ""}, // cont retries the I/O: in place
	} {
		state, restart := liveState(status)
		if string(state) != want.state || (want.restart == "") != (restart == "") || !strings.Contains(restart, want.restart) {
			t.Errorf("liveState(%q) = %q, %q; want %q and a reason naming %q", status, state, restart, want.state, want.restart)
		}
	}
}

// TestSystem_shutdownStatusIsRestarted drives a real VM (TCG, no guest)
// into QMP status shutdown: with -no-reboot a reset request is a shutdown
// request, and -no-shutdown keeps the stopped VM instead of exiting, the
// state a guest that powers itself off leaves. cont refuses that state
// ("Resetting the Virtual Machine is required"), so the plan restarts
// the VM, naming the status, and apply does so without waiting for an
// ACPI shutdown the dead guest cannot perform.
func TestSystem_shutdownStatusIsRestarted(t *testing.T) {
	l := newVMLab(t, "s")
	const a = "vm.a"
	lab := `
vm "a" {
  provider         = qemu
  accel            = "tcg"
  memory           = 64
  adapters         = 1
  console          = "none"
  acpi_shutdown    = true
  shutdown_timeout = 30
  extra_args       = "-no-reboot -no-shutdown"
}
`
	l.Write(lab)
	l.Apply(planner.NormalMode)
	pid := l.pid(a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := dialQMP(ctx, l.value(a).GetAttr("qmp_socket").AsString(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.do("system_reset", nil); err != nil {
		t.Fatal(err)
	}
	q.Close()
	l.waitStatus(a, "shutdown", 5*time.Second)

	text := l.restartPlanned(a, "shutdown")
	for _, s := range []string{"# vm.a will be restarted", "QMP status shutdown", `~ state`, "(known after apply)"} {
		if !strings.Contains(text, s) {
			t.Errorf("the plan lacks %q:\n%s", s, text)
		}
	}
	t.Logf("pid %d, plan:\n%s", pid, text)
	start := time.Now()
	l.Apply(planner.NormalMode)
	t.Logf("restart took %s, new pid %d", time.Since(start), l.pid(a))
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the restart took %s: it waited for an ACPI shutdown of a dead guest", d)
	}
	if st := l.status(a); st != "running" || l.pid(a) == pid {
		t.Fatalf("after apply: status %s, pid %d (was %d); want a new running process", st, l.pid(a), pid)
	}
	if _, ok := procStart(pid); ok {
		t.Errorf("the old QEMU (pid %d) still runs", pid)
	}
	l.converged("after the restart")
	// A guestless VM ignores the power button: no ACPI wait at cleanup.
	l.Write(strings.Replace(lab, "acpi_shutdown    = true", "acpi_shutdown    = false", 1))
	l.Apply(planner.NormalMode)
}

// panicInit loads the pvpanic driver and crashes the kernel: QEMU's
// pvpanic device tells QEMU, which (-action panic=pause) keeps the VM in
// QMP status guest-panicked.
const panicInit = `#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
$B insmod /lib/pvpanic.ko
$B insmod /lib/pvpanic-mmio.ko
echo c > /proc/sysrq-trigger
$B sleep 3600
`

// TestSystem_guestPanickedIsRestarted boots a real guest under TCG that
// panics (Debian's kernel, pvpanic): the VM in QMP status guest-panicked
// is planned as a restart naming the status, and apply starts a new
// process.
func TestSystem_guestPanickedIsRestarted(t *testing.T) {
	l := newVMLab(t, "p")
	l.AllowHostPaths = true // the kernel and initrd are the host's cached Debian kernel and a built initramfs
	const a = "vm.a"
	kernel, initrd := guestKitWith(t, panicInit, []string{"pvpanic", "pvpanic-mmio"})
	l.Write(fmt.Sprintf(`
vm "a" {
  provider    = qemu
  accel       = "tcg"
  memory      = 128
  adapters    = 0
  console     = "none"
  kernel      = %q
  initrd      = %q
  kernel_args = "console=ttyS0 quiet"
  extra_args  = "-device pvpanic -action panic=pause"
}
`, kernel, initrd))
	l.Apply(planner.NormalMode)
	pid := l.pid(a)
	l.waitStatus(a, "guest-panicked", 60*time.Second)
	l.restartPlanned(a, "guest-panicked")
	l.Apply(planner.NormalMode)
	// The new guest boots for seconds under TCG before it panics again.
	if st := l.status(a); st != "running" || l.pid(a) == pid {
		t.Fatalf("after apply: status %s, pid %d (was %d); want a new running process", st, l.pid(a), pid)
	}
}
