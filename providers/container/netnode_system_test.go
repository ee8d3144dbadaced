package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/planner"
)

// TestSystem_networkNodeDefaults: a container with no capabilities
// listed pings, configures its interfaces, has /dev/net/tun and writes
// its net.* sysctls, but not the kernel's; its command may come from a
// bind mount.
func TestSystem_networkNodeDefaults(t *testing.T) {
	l := newSysLab(t)
	if err := os.MkdirAll(filepath.Join(l.Dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "scripts", "start.sh"), []byte("#!/bin/sh\nexec sleep 3600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.Write(`
container "a" {
  rootfs  = "rootfs"
  command = ["/opt/scripts/start.sh"]
  mount {
    source      = "scripts"
    destination = "/opt/scripts"
    options     = ["ro"]
  }
}
`)
	l.Apply(planner.NormalMode)
	for _, tc := range []struct {
		what string
		args []string
		want string
	}{
		{"ip (NET_ADMIN)", []string{"sh", "-c", "ip link set lo up && ip addr add 10.77.0.1/32 dev lo && echo ok"}, "ok"},
		{"ping (NET_RAW)", []string{"ping", "-c", "1", "-W", "2", "10.77.0.1"}, "1 packets received"},
		{"/dev/net/tun", []string{"sh", "-c", "[ -c /dev/net/tun ] && echo tun"}, "tun"},
		{"net.* sysctl", []string{"sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward"}, "1"},
		{"kernel.* stays read-only", []string{"sh", "-c", "echo x > /proc/sys/kernel/hostname 2>/dev/null || echo refused"}, "refused"},
	} {
		out, err := l.exec("container.a", tc.args...)
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.what, out, err, tc.want)
		}
	}
}

// TestSystem_privileged: privileged = true runs with every capability
// where the host gives them all, and elsewhere fails at plan naming the
// capabilities the host lacks.
func TestSystem_privileged(t *testing.T) {
	l := newSysLab(t)
	l.Write(`
container "a" {
  rootfs     = "rootfs"
  command    = ["sleep", "3600"]
  privileged = true
}
`)
	missing := missingCapabilities(allCapabilities())
	if len(missing) > 0 {
		_, _, err := tryPlan(l, planner.NormalMode)
		if err == nil || !strings.Contains(err.Error(), "Privileged containers cannot run here") || !strings.Contains(err.Error(), strings.Join(missing, ", ")) {
			t.Fatalf("plan with privileged = true where the host lacks %v: %v; want a diagnostic naming them", missing, err)
		}
		t.Logf("this host lacks %v: %v", missing, err)
		// The rest of privileged (devices, /proc and /sys writable) with
		// the capabilities the host gives.
		var caps []string
		for _, c := range allCapabilities() {
			if !containsStr(missing, c) {
				caps = append(caps, `"`+c+`"`)
			}
		}
		l.Write(`
container "a" {
  rootfs       = "rootfs"
  command      = ["sleep", "3600"]
  privileged   = true
  capabilities = [` + strings.Join(caps, ", ") + `]
}
`)
	}
	l.Apply(planner.NormalMode)
	out, err := l.exec("container.a", "sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid && echo rw; [ -c /dev/null ] && [ -e /dev/kmsg ] && echo devices")
	if err != nil || !strings.Contains(out, "rw") || !strings.Contains(out, "devices") {
		t.Fatalf("privileged container: %q, %v", out, err)
	}
}
