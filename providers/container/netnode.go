package container

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/labform/labform/providers"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

// A container in a lab is a network node: by default it gets docker's
// default capabilities plus NET_ADMIN and NET_RAW (ip and ping work),
// /dev/net/tun, and writable net.* sysctls (its own namespace's).
// privileged = true gives what docker run --privileged gives.

// defaultCapabilities are docker's defaults (moby's oci/caps) and
// CAP_NET_ADMIN.
var defaultCapabilities = []string{"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_MKNOD", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT"}

// capNumbers are the capabilities' bit numbers (linux/capability.h).
var capNumbers = func() map[string]int {
	m := map[string]int{}
	for i, c := range strings.Fields(`CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
		LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO
		SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD
		LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ
		PERFMON BPF CHECKPOINT_RESTORE`) {
		m["CAP_"+c] = i
	}
	return m
}()

// tunDevice is /dev/net/tun (10:200, already allowed in the device cgroup).
var tunDevice = specs.LinuxDevice{Path: "/dev/net/tun", Type: "c", Major: 10, Minor: 200, FileMode: fileMode(0o666)}

// networkNode gives a container what routing software expects of a
// node: /dev/net/tun always (VPN and overlay daemons open it), and with
// privileged, what docker run --privileged gives. Without privileged
// the container keeps runc's default confinement.
func (b *specBuilder) networkNode(v cty.Value, s *specs.Spec) {
	if !boolean(v, "privileged") {
		if !hasDevice(s, tunDevice.Path) {
			uid, gid := rootOwner(s)
			d := tunDevice
			d.UID, d.GID = uid, gid
			s.Linux.Devices = append(s.Linux.Devices, d)
		}
		return
	}
	// docker run --privileged: every capability the kernel has, nothing
	// masked or read-only in /proc and /sys, every device.
	if v.GetAttr("capabilities").IsNull() {
		caps := allCapabilities()
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps}
	}
	s.Process.NoNewPrivileges = false
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	for i, m := range s.Mounts {
		if m.Destination == "/sys" {
			s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
		}
	}
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	for _, d := range hostDevices() {
		if !hasDevice(s, d.Path) {
			s.Linux.Devices = append(s.Linux.Devices, d)
		}
	}
}

// hasDevice tells whether the spec already has a device at path: a
// device the lab lists itself (with its own mode or owner) wins over the
// one added here.
func hasDevice(s *specs.Spec, path string) bool {
	for _, d := range s.Linux.Devices {
		if d.Path == path {
			return true
		}
	}
	return false
}

// allCapabilities lists the capabilities the running kernel has.
func allCapabilities() []string {
	last := len(capNumbers) - 1
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < last {
			last = n
		}
	}
	var caps []string
	for c, n := range capNumbers {
		if n <= last {
			caps = append(caps, c)
		}
	}
	sort.Strings(caps)
	return caps
}

// hostDevices lists the host's character and block devices under /dev
// and /dev/net, as docker gives a privileged container; the terminals
// and the console are the container's own.
func hostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	for _, dir := range []string{"/dev", "/dev/net"} {
		es, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range es {
			p := filepath.Join(dir, e.Name())
			switch p {
			case "/dev/console", "/dev/ptmx", "/dev/tty":
				continue
			}
			var st unix.Stat_t
			if unix.Lstat(p, &st) != nil {
				continue
			}
			typ := ""
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFCHR:
				typ = "c"
			case unix.S_IFBLK:
				typ = "b"
			default:
				continue
			}
			out = append(out, specs.LinuxDevice{Path: p, Type: typ, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
				FileMode: fileMode(st.Mode & 0o777), UID: u32(st.Uid), GID: u32(st.Gid)})
		}
	}
	return out
}

func u32(v uint32) *uint32 { return &v }

var _ providers.HostChecker = (*Provider)(nil)

// CheckHost refuses privileged = true where labform's own process lacks
// capabilities (its bounding set): runc would refuse the container with
// an obscure "operation not permitted".
func (p *Provider) CheckHost(typ string, v cty.Value) []*providers.AttrError {
	if typ != "container" || v.IsNull() || !v.GetAttr("privileged").IsKnown() {
		return nil
	}
	for _, a := range []string{"capabilities", "cap_add", "cap_drop"} {
		if !v.GetAttr(a).IsWhollyKnown() {
			return nil
		}
	}
	if boolean(v, "privileged") && v.GetAttr("capabilities").IsNull() {
		if missing := missingCapabilities(allCapabilities()); len(missing) > 0 {
			return []*providers.AttrError{{Path: cty.GetAttrPath("privileged"), Summary: "Privileged containers cannot run here",
				Detail: fmt.Sprintf("privileged = true gives every capability, but this host does not let labform's process hold %s (its bounding set in /proc/self/status, CapBnd), so runc would refuse the container. List the capabilities the node needs in capabilities = [...] instead.",
					strings.Join(missing, ", "))}}
		}
		return nil
	}
	names := func(attr string) []string {
		var l []string
		for _, n := range strList(v, attr) {
			l = append(l, normalCapability(n))
		}
		return l
	}
	base := defaultCapabilities
	if !v.GetAttr("capabilities").IsNull() {
		base = names("capabilities")
	}
	adds := names("cap_add")
	missing := missingCapabilities(tweakCapabilities(base, adds, names("cap_drop")))
	if len(missing) == 0 {
		return nil
	}
	// Point at what asked for them: cap_add (ALL, or a name), else the list.
	attr, fix := "capabilities", fmt.Sprintf("leave %s out", plural(len(missing), "it", "them"))
	for _, m := range missing {
		if slices.Contains(adds, m) || slices.Contains(adds, "ALL") {
			attr = "cap_add"
		}
	}
	switch {
	case slices.Contains(adds, "ALL"):
		fix = fmt.Sprintf("add %s to cap_drop", plural(len(missing), "it", "them"))
	case attr == "capabilities" && v.GetAttr("capabilities").IsNull():
		fix = "the default set has " + plural(len(missing), "it", "them") + ": list the capabilities the node needs in capabilities = [...], or take " + plural(len(missing), "it", "them") + " out with cap_drop"
	}
	return []*providers.AttrError{{Path: cty.GetAttrPath(attr), Summary: "Capabilities this host does not give",
		Detail: fmt.Sprintf("this host does not let labform's process hold %s (its bounding set in /proc/self/status, CapBnd), so runc would refuse the container: %s.",
			strings.Join(missing, ", "), fix)}}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// boundingSet is this process's capability bounding set (CapBnd in
// /proc/self/status), read once: CheckHost asks for every container of a
// plan, and a process's bounding set never grows.
var boundingSet = sync.OnceValues(func() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	var bnd uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bnd, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return bnd, true
})

// missingCapabilities lists those of caps outside this process's bounding
// set.
func missingCapabilities(caps []string) []string {
	bnd, ok := boundingSet()
	if !ok {
		return nil
	}
	var missing []string
	for _, c := range caps {
		if n, ok := capNumbers[c]; ok && bnd&(1<<uint(n)) == 0 {
			missing = append(missing, c)
		}
	}
	return missing
}
