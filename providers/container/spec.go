package container

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/labform/labform/internal/ctyobj"
	"github.com/labform/labform/providers"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/zclconf/go-cty/cty"
)

// SpecEnv is what a container's spec depends on besides its value.
type SpecEnv struct {
	LabDir string // relative rootfs and bind sources are relative to it
	Netns  string // the pinned network namespace the container joins
}

// Runc's defaults (runc spec) for masked paths and devices; the
// capabilities and /proc/sys are a network node's (netnode.go).
var (
	maskedPaths = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}
	// /proc/sys is read-only but for net: a network node sets its own
	// namespace's sysctls (ip_forward, rp_filter, ...). runc skips the
	// paths a kernel lacks.
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys/abi", "/proc/sys/crypto", "/proc/sys/debug",
		"/proc/sys/dev", "/proc/sys/fs", "/proc/sys/kernel", "/proc/sys/sunrpc", "/proc/sys/user", "/proc/sys/vm", "/proc/sysrq-trigger"}
	// defaultDevices are allowed in the device cgroup after "deny all":
	// /dev/console, tty0, tty1, ptmx, the pts and tun.
	defaultDevices = []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(5), Minor: i64(1), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(4), Minor: i64(0), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(4), Minor: i64(1), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(10), Minor: i64(200), Access: "rwm"},
	}
)

func i64(v int64) *int64 { return &v }

// mountOptions is the mount-option table: every option a mount block may
// name. Propagation flags have r-forms; data options (mode=, size=, ...)
// pass through to the kernel.
var mountOptions = map[string]bool{
	"async": true, "atime": true, "bind": true, "defaults": true, "dev": true, "diratime": true, "dirsync": true,
	"exec": true, "mand": true, "noatime": true, "nodev": true, "nodiratime": true, "noexec": true, "nomand": true,
	"norelatime": true, "nostrictatime": true, "nosuid": true, "rbind": true, "relatime": true, "remount": true,
	"ro": true, "rw": true, "strictatime": true, "suid": true, "sync": true,
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
	"unbindable": true, "runbindable": true,
}

var rlimitNames = map[string]bool{
	"RLIMIT_CPU": true, "RLIMIT_FSIZE": true, "RLIMIT_DATA": true, "RLIMIT_STACK": true, "RLIMIT_CORE": true,
	"RLIMIT_RSS": true, "RLIMIT_NPROC": true, "RLIMIT_NOFILE": true, "RLIMIT_MEMLOCK": true, "RLIMIT_AS": true,
	"RLIMIT_LOCKS": true, "RLIMIT_SIGPENDING": true, "RLIMIT_MSGQUEUE": true, "RLIMIT_NICE": true,
	"RLIMIT_RTPRIO": true, "RLIMIT_RTTIME": true,
}

var namespaceTypes = map[string]specs.LinuxNamespaceType{
	"pid": specs.PIDNamespace, "network": specs.NetworkNamespace, "mount": specs.MountNamespace,
	"ipc": specs.IPCNamespace, "uts": specs.UTSNamespace, "user": specs.UserNamespace, "cgroup": specs.CgroupNamespace,
}

var seccompActions = map[string]bool{
	"SCMP_ACT_KILL": true, "SCMP_ACT_KILL_PROCESS": true, "SCMP_ACT_KILL_THREAD": true, "SCMP_ACT_TRAP": true,
	"SCMP_ACT_ERRNO": true, "SCMP_ACT_TRACE": true, "SCMP_ACT_ALLOW": true, "SCMP_ACT_LOG": true, "SCMP_ACT_NOTIFY": true,
}

var seccompOps = map[string]bool{
	"SCMP_CMP_NE": true, "SCMP_CMP_LT": true, "SCMP_CMP_LE": true, "SCMP_CMP_EQ": true,
	"SCMP_CMP_GE": true, "SCMP_CMP_GT": true, "SCMP_CMP_MASKED_EQ": true,
}

var seccompArches = map[string]bool{
	"SCMP_ARCH_X86": true, "SCMP_ARCH_X86_64": true, "SCMP_ARCH_X32": true, "SCMP_ARCH_ARM": true,
	"SCMP_ARCH_AARCH64": true, "SCMP_ARCH_MIPS": true, "SCMP_ARCH_MIPS64": true, "SCMP_ARCH_MIPS64N32": true,
	"SCMP_ARCH_MIPSEL": true, "SCMP_ARCH_MIPSEL64": true, "SCMP_ARCH_MIPSEL64N32": true, "SCMP_ARCH_PPC": true,
	"SCMP_ARCH_PPC64": true, "SCMP_ARCH_PPC64LE": true, "SCMP_ARCH_S390": true, "SCMP_ARCH_S390X": true,
	"SCMP_ARCH_PARISC": true, "SCMP_ARCH_PARISC64": true, "SCMP_ARCH_RISCV64": true,
}

// specBuilder collects the spec and the problems found on the way, each
// at the path of the attribute it concerns.
type specBuilder struct {
	env  SpecEnv
	errs []*providers.AttrError
}

// fail records a problem and lets the build go on, so that one validate
// reports every bad attribute of a container, not only the first.
func (b *specBuilder) fail(path cty.Path, summary, detail string, args ...interface{}) {
	b.errs = append(b.errs, &providers.AttrError{Path: path, Summary: summary, Detail: fmt.Sprintf(detail, args...)})
}

// BuildSpec translates a container's value into an OCI runtime spec. The
// errors name the attribute at fault; validate reports them before
// anything runs.
func BuildSpec(v cty.Value, env SpecEnv) (*specs.Spec, []*providers.AttrError) {
	b := &specBuilder{env: env}
	s := b.build(v)
	return s, b.errs
}

// build fills the spec part by part. The order matters where a part
// reads what an earlier one set: devices and networkNode make device
// nodes for the root that namespaces' uid mappings give, and networkNode
// adds /dev/net/tun only where devices did not list it.
func (b *specBuilder) build(v cty.Value) *specs.Spec {
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: b.path(str(v, "rootfs")), Readonly: boolean(v, "readonly_rootfs")},
		Process: &specs.Process{
			Terminal: false,
			Args:     strList(v, "command"),
			Env:      b.env_(v),
			Cwd:      str(v, "cwd"),
		},
		Hostname: str(v, "hostname"),
		Linux: &specs.Linux{
			MaskedPaths:   append([]string(nil), maskedPaths...),
			ReadonlyPaths: append([]string(nil), readonlyPaths...),
			Sysctl:        strMap(v, "sysctl"),
			Resources:     &specs.LinuxResources{Devices: append([]specs.LinuxDeviceCgroup(nil), defaultDevices...)},
		},
	}
	if len(s.Process.Args) == 0 {
		s.Process.Args = []string{"sh"}
	}
	b.user(v, s)
	b.capabilities(v, s)
	b.rlimits(v, s)
	s.Mounts = b.mounts(v)
	b.namespaces(v, s)
	b.devices(v, s)
	b.resources(v, s)
	b.seccomp(v, s)
	b.hooks(v, s)
	b.networkNode(v, s)
	s.Process.ApparmorProfile = str(v, "apparmor_profile")
	s.Process.SelinuxLabel = str(v, "selinux_label")
	return s
}

// path resolves a path of the lab file against the lab directory, not
// against labform's working directory: the lab must mean the same files
// whichever directory labform runs from (-chdir).
func (b *specBuilder) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(b.env.LabDir, p)
}

// env_ is the process environment: a usual PATH (the runtime sets only
// what the spec says, and most images' programs need one), which env may
// replace, then env in key order, so that the spec is the same from run
// to run.
func (b *specBuilder) env_(v cty.Value) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	m := strMap(v, "env")
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		if k == "PATH" {
			env[0] = "PATH=" + m[k]
			continue
		}
		env = append(env, k+"="+m[k])
	}
	return env
}

func (b *specBuilder) user(v cty.Value, s *specs.Spec) {
	u := v.GetAttr("user")
	if u.IsNull() {
		return
	}
	s.Process.User = specs.User{UID: uint32(num(u, "uid")), GID: uint32(num(u, "gid"))}
	for _, g := range numList(u, "additional_gids") {
		s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
	}
}

func (b *specBuilder) capabilities(v cty.Value, s *specs.Spec) {
	base := defaultCapabilities
	if c := v.GetAttr("capabilities"); !c.IsNull() {
		base = b.capList(v, "capabilities", false)
	}
	out := tweakCapabilities(base, b.capList(v, "cap_add", true), b.capList(v, "cap_drop", true))
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: out, Effective: out, Permitted: out}
	s.Process.NoNewPrivileges = true
}

// tweakCapabilities changes the base set with cap_add and cap_drop as
// docker's --cap-add and --cap-drop do (moby's TweakCapabilities), so a
// node that needs one more capability (FRR's zebra: CAP_SYS_ADMIN) need
// not spell out the whole default set: "ALL" in adds gives every
// capability but the drops; "ALL" in drops gives only the adds; else the
// drops leave the base and the adds join it (a name in both is kept).
func tweakCapabilities(base, adds, drops []string) []string {
	has := func(l []string, n string) bool { return slices.Contains(l, n) }
	var out []string
	switch {
	case has(adds, "ALL"):
		for _, n := range allCapabilities() {
			if !has(drops, n) {
				out = append(out, n)
			}
		}
		return out
	case has(drops, "ALL"):
		base = nil
	}
	for _, n := range base {
		if !has(drops, n) && !has(out, n) {
			out = append(out, n)
		}
	}
	for _, n := range adds {
		if n != "ALL" && !has(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// capList reads a list of capability names (CAP_ optional, any case),
// failing on names Linux does not have; all allows "ALL" (cap_add and
// cap_drop).
func (b *specBuilder) capList(v cty.Value, attr string, all bool) []string {
	if !v.Type().HasAttribute(attr) || v.GetAttr(attr).IsNull() {
		return nil
	}
	var caps []string
	for i, name := range strList(v, attr) {
		n := normalCapability(name)
		if n == "ALL" && all {
			caps = append(caps, n)
			continue
		}
		if !knownCapability[n] {
			hint := suggest(n, knownCapability)
			if n == "ALL" {
				hint = " ALL is for cap_add and cap_drop (as docker's --cap-add=ALL, --cap-drop=ALL); privileged = true gives every capability and more."
			}
			b.fail(cty.GetAttrPath(attr).Index(cty.NumberIntVal(int64(i))), "Unknown capability",
				"%q is not a Linux capability (CAP_NET_ADMIN, CAP_NET_RAW, ...).%s", name, hint)
			continue
		}
		caps = append(caps, n)
	}
	return caps
}

// normalCapability is a capability's name as runc takes it: upper case,
// with CAP_ ("ALL" stays).
func normalCapability(name string) string {
	n := strings.ToUpper(name)
	if n == "ALL" || n == "CAP_ALL" {
		return "ALL"
	}
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	return n
}

func (b *specBuilder) rlimits(v cty.Value, s *specs.Spec) {
	for i, r := range list(v, "rlimit") {
		typ := str(r, "type")
		if !rlimitNames[typ] {
			b.fail(cty.GetAttrPath("rlimit").Index(cty.NumberIntVal(int64(i))).GetAttr("type"), "Unknown rlimit",
				"%q is not an rlimit. The names are RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_DATA, RLIMIT_STACK, RLIMIT_CORE, RLIMIT_RSS, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_MEMLOCK, RLIMIT_AS, RLIMIT_LOCKS, RLIMIT_SIGPENDING, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_RTPRIO and RLIMIT_RTTIME.%s",
				typ, suggest(typ, rlimitNames))
			continue
		}
		soft, hard := uint64(num(r, "soft")), uint64(num(r, "hard"))
		if soft > hard {
			b.fail(cty.GetAttrPath("rlimit").Index(cty.NumberIntVal(int64(i))), "Invalid rlimit", "%s: the soft limit %d is above the hard limit %d.", typ, soft, hard)
		}
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard})
	}
}

func (b *specBuilder) mounts(v cty.Value) []specs.Mount {
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		// sysfs is mounted read-only: a lab's container must not change
		// the host's devices.
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
	for i, m := range list(v, "mount") {
		path := cty.GetAttrPath("mount").Index(cty.NumberIntVal(int64(i)))
		mnt := specs.Mount{Destination: str(m, "destination"), Type: str(m, "type"), Source: str(m, "source")}
		if !filepath.IsAbs(mnt.Destination) {
			b.fail(path.GetAttr("destination"), "Invalid mount destination", "%q: a destination is an absolute path inside the container.", mnt.Destination)
		}
		opts := strList(m, "options")
		bind := mnt.Type == "bind"
		for j, o := range opts {
			name, _, isData := strings.Cut(o, "=")
			if isData {
				continue // mode=, size=, uid=: for the filesystem
			}
			if !mountOptions[name] {
				b.fail(path.GetAttr("options").Index(cty.NumberIntVal(int64(j))), "Unknown mount option",
					"%q is not a mount option.%s", o, suggest(name, mountOptions))
			}
			bind = bind || name == "bind" || name == "rbind"
		}
		if bind {
			mnt.Source = b.path(mnt.Source)
			if mnt.Type == "" || mnt.Type == "bind" {
				mnt.Type = "bind"
			}
			if !containsStr(opts, "bind") && !containsStr(opts, "rbind") {
				opts = append([]string{"rbind"}, opts...)
			}
		}
		mnt.Options = opts
		ms = append(ms, mnt)
	}
	return ms
}

// namespaces gives the container new pid, ipc, uts and mount namespaces
// unless the lab joins existing ones, a user namespace when it maps ids,
// and always the network namespace labform pinned: the lab may not
// choose that one, since its ports and chains live there across
// restarts.
func (b *specBuilder) namespaces(v cty.Value, s *specs.Spec) {
	given := strMap(v, "namespaces")
	kinds := map[string]string{"pid": "", "ipc": "", "uts": "", "mount": ""}
	for k, p := range given {
		if _, ok := namespaceTypes[k]; !ok {
			b.fail(cty.GetAttrPath("namespaces").Index(cty.StringVal(k)), "Unknown namespace type",
				"%q is not a namespace type: pid, network, mount, ipc, uts, user or cgroup.%s", k, suggest(k, namespaceTypes))
			continue
		}
		if k == "network" {
			b.fail(cty.GetAttrPath("namespaces").Index(cty.StringVal(k)), "The network namespace is labform's",
				"labform creates and pins each container's network namespace, so that its ports and firewall chains survive a restart; leave network out of namespaces.")
			continue
		}
		if p != "" && !filepath.IsAbs(p) {
			b.fail(cty.GetAttrPath("namespaces").Index(cty.StringVal(k)), "Invalid namespace path", "%q: a namespace to join is given by an absolute path, e.g. /proc/1234/ns/%s.", p, k)
		}
		kinds[k] = p
	}
	uidMaps, gidMaps := idMappings(v, "uid_mappings"), idMappings(v, "gid_mappings")
	if len(uidMaps)+len(gidMaps) > 0 {
		if _, ok := kinds["user"]; !ok {
			kinds["user"] = ""
		}
		s.Linux.UIDMappings, s.Linux.GIDMappings = uidMaps, gidMaps
	}
	names := slices.Sorted(maps.Keys(kinds))
	for _, k := range names {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: namespaceTypes[k], Path: kinds[k]})
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: b.env.Netns})
}

// idMappings reads uid_mappings or gid_mappings as the spec takes them.
func idMappings(v cty.Value, attr string) []specs.LinuxIDMapping {
	var out []specs.LinuxIDMapping
	for _, m := range list(v, attr) {
		out = append(out, specs.LinuxIDMapping{ContainerID: uint32(num(m, "container_id")), HostID: uint32(num(m, "host_id")), Size: uint32(num(m, "size"))})
	}
	return out
}

// rootOwner is the host uid and gid that container root maps to: device
// nodes are made for them, so that root in a user namespace owns them.
func rootOwner(s *specs.Spec) (uid, gid *uint32) {
	for _, m := range s.Linux.UIDMappings {
		if m.ContainerID == 0 {
			u := m.HostID
			uid = &u
		}
	}
	for _, m := range s.Linux.GIDMappings {
		if m.ContainerID == 0 {
			g := m.HostID
			gid = &g
		}
	}
	return uid, gid
}

// devices makes each listed device node and allows it in the device
// cgroup: the two go together, as a node the cgroup refuses cannot be
// opened.
func (b *specBuilder) devices(v cty.Value, s *specs.Spec) {
	uid, gid := rootOwner(s)
	for i, d := range list(v, "device") {
		path := cty.GetAttrPath("device").Index(cty.NumberIntVal(int64(i)))
		typ := str(d, "type")
		if typ != "c" && typ != "b" && typ != "u" && typ != "p" {
			b.fail(path.GetAttr("type"), "Invalid device type", "%q: a device is c (character), b (block), u (unbuffered) or p (FIFO).", typ)
		}
		perms := str(d, "permissions")
		if strings.Trim(perms, "rwm") != "" {
			b.fail(path.GetAttr("permissions"), "Invalid device permissions", "%q: permissions are made of r, w and m.", perms)
		}
		major, minor := int64(num(d, "major")), int64(num(d, "minor"))
		mode := uint32(0o666)
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: str(d, "path"), Type: typ, Major: major, Minor: minor,
			FileMode: fileMode(mode), UID: uid, GID: gid})
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: typ,
			Major: i64(major), Minor: i64(minor), Access: perms})
	}
}

func (b *specBuilder) resources(v cty.Value, s *specs.Spec) {
	r := v.GetAttr("resources")
	if r.IsNull() {
		return
	}
	res := s.Linux.Resources
	rp := cty.GetAttrPath("resources")
	size := func(name string) *int64 {
		if r.GetAttr(name).IsNull() {
			return nil
		}
		n, err := ParseSize(str(r, name))
		if err != nil {
			b.fail(rp.GetAttr(name), "Invalid size", "%s", err)
			return nil
		}
		return &n
	}
	mem := &specs.LinuxMemory{Limit: size("memory"), Reservation: size("memory_reservation"), Swap: size("memory_swap")}
	if !r.GetAttr("swappiness").IsNull() {
		sw := uint64(num(r, "swappiness"))
		if sw > 100 {
			b.fail(rp.GetAttr("swappiness"), "Invalid swappiness", "swappiness is between 0 and 100, not %d.", sw)
		}
		mem.Swappiness = &sw
	}
	if !r.GetAttr("oom_kill_disable").IsNull() {
		d := r.GetAttr("oom_kill_disable").True()
		mem.DisableOOMKiller = &d
	}
	if *mem != (specs.LinuxMemory{}) {
		res.Memory = mem
	}
	cpu := &specs.LinuxCPU{Shares: optU64(r, "cpu_shares"), Quota: optI64(r, "cpu_quota"), Period: optU64(r, "cpu_period"),
		RealtimeRuntime: optI64(r, "cpu_realtime_runtime"), RealtimePeriod: optU64(r, "cpu_realtime_period"),
		Cpus: str(r, "cpuset_cpus"), Mems: str(r, "cpuset_mems")}
	if *cpu != (specs.LinuxCPU{}) {
		res.CPU = cpu
	}
	if !r.GetAttr("pids").IsNull() {
		res.Pids = &specs.LinuxPids{Limit: i64(int64(num(r, "pids")))}
	}
	blk := &specs.LinuxBlockIO{}
	if !r.GetAttr("blkio_weight").IsNull() {
		w := uint16(num(r, "blkio_weight"))
		if w < 10 || w > 1000 {
			b.fail(rp.GetAttr("blkio_weight"), "Invalid blkio weight", "blkio_weight is between 10 and 1000, not %d.", w)
		}
		blk.Weight = &w
	}
	for i, t := range list(r, "blkio_throttle") {
		dev := specs.LinuxThrottleDevice{Rate: uint64(num(t, "rate"))}
		dev.Major, dev.Minor = int64(num(t, "major")), int64(num(t, "minor"))
		switch str(t, "direction") {
		case "read_bps":
			blk.ThrottleReadBpsDevice = append(blk.ThrottleReadBpsDevice, dev)
		case "write_bps":
			blk.ThrottleWriteBpsDevice = append(blk.ThrottleWriteBpsDevice, dev)
		case "read_iops":
			blk.ThrottleReadIOPSDevice = append(blk.ThrottleReadIOPSDevice, dev)
		case "write_iops":
			blk.ThrottleWriteIOPSDevice = append(blk.ThrottleWriteIOPSDevice, dev)
		default:
			b.fail(rp.GetAttr("blkio_throttle").Index(cty.NumberIntVal(int64(i))).GetAttr("direction"), "Invalid throttle direction",
				"%q: a throttle is read_bps, write_bps, read_iops or write_iops.", str(t, "direction"))
		}
	}
	if blk.Weight != nil || len(blk.ThrottleReadBpsDevice)+len(blk.ThrottleWriteBpsDevice)+len(blk.ThrottleReadIOPSDevice)+len(blk.ThrottleWriteIOPSDevice) > 0 {
		res.BlockIO = blk
	}
	hp := strMap(r, "hugepage_limits")
	for _, page := range slices.Sorted(maps.Keys(hp)) {
		n, err := ParseSize(hp[page])
		if err != nil {
			b.fail(rp.GetAttr("hugepage_limits").Index(cty.StringVal(page)), "Invalid size", "%s", err)
			continue
		}
		res.HugepageLimits = append(res.HugepageLimits, specs.LinuxHugepageLimit{Pagesize: page, Limit: uint64(n)})
	}
	netw := &specs.LinuxNetwork{}
	if !r.GetAttr("net_cls_classid").IsNull() {
		id := uint32(num(r, "net_cls_classid"))
		netw.ClassID = &id
	}
	if p := r.GetAttr("net_prio"); !p.IsNull() {
		prios := p.AsValueMap()
		for _, ifname := range slices.Sorted(maps.Keys(prios)) {
			f, _ := prios[ifname].AsBigFloat().Uint64()
			netw.Priorities = append(netw.Priorities, specs.LinuxInterfacePriority{Name: ifname, Priority: uint32(f)})
		}
	}
	if netw.ClassID != nil || len(netw.Priorities) > 0 {
		res.Network = netw
	}
}

func (b *specBuilder) seccomp(v cty.Value, s *specs.Spec) {
	sc := v.GetAttr("seccomp")
	if sc.IsNull() {
		return
	}
	sp := cty.GetAttrPath("seccomp")
	out := &specs.LinuxSeccomp{DefaultAction: specs.LinuxSeccompAction(str(sc, "default_action"))}
	if !seccompActions[string(out.DefaultAction)] {
		b.fail(sp.GetAttr("default_action"), "Unknown seccomp action", "%q is not a seccomp action (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, ...).%s",
			out.DefaultAction, suggest(string(out.DefaultAction), seccompActions))
	}
	for i, a := range strList(sc, "architectures") {
		if !seccompArches[a] {
			b.fail(sp.GetAttr("architectures").Index(cty.NumberIntVal(int64(i))), "Unknown seccomp architecture",
				"%q is not a seccomp architecture (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, ...).%s", a, suggest(a, seccompArches))
		}
		out.Architectures = append(out.Architectures, specs.Arch(a))
	}
	for i, sys := range list(sc, "syscall") {
		p := sp.GetAttr("syscall").Index(cty.NumberIntVal(int64(i)))
		call := specs.LinuxSyscall{Names: strList(sys, "names"), Action: specs.LinuxSeccompAction(str(sys, "action"))}
		if !seccompActions[string(call.Action)] {
			b.fail(p.GetAttr("action"), "Unknown seccomp action", "%q is not a seccomp action.%s", call.Action, suggest(string(call.Action), seccompActions))
		}
		for j, arg := range list(sys, "arg") {
			op := str(arg, "op")
			if !seccompOps[op] {
				b.fail(p.GetAttr("arg").Index(cty.NumberIntVal(int64(j))).GetAttr("op"), "Unknown seccomp operator",
					"%q is not a comparison: SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT or _MASKED_EQ.%s", op, suggest(op, seccompOps))
			}
			idx := uint(num(arg, "index"))
			if idx > 5 {
				b.fail(p.GetAttr("arg").Index(cty.NumberIntVal(int64(j))).GetAttr("index"), "Invalid syscall argument", "a syscall has arguments 0 to 5, not %d.", idx)
			}
			call.Args = append(call.Args, specs.LinuxSeccompArg{Index: idx, Value: uint64(num(arg, "value")),
				ValueTwo: uint64(num(arg, "value_two")), Op: specs.LinuxSeccompOperator(op)})
		}
		out.Syscalls = append(out.Syscalls, call)
	}
	s.Linux.Seccomp = out
}

func (b *specBuilder) hooks(v cty.Value, s *specs.Spec) {
	for i, h := range list(v, "hook") {
		hook := specs.Hook{Path: str(h, "path"), Args: strList(h, "args"), Env: strList(h, "env")}
		if !filepath.IsAbs(hook.Path) {
			b.fail(cty.GetAttrPath("hook").Index(cty.NumberIntVal(int64(i))).GetAttr("path"), "Invalid hook path",
				"%q: a hook's program is given by an absolute path on the host.", hook.Path)
		}
		if s.Hooks == nil {
			s.Hooks = &specs.Hooks{}
		}
		switch str(h, "when") {
		case "prestart":
			// runc 1.1 runs prestart hooks in the runtime namespace after
			// the container is created: createRuntime is its successor.
			//lint:ignore SA1019 the seeds' prestart hooks, which runc 1.1 runs
			s.Hooks.Prestart = append(s.Hooks.Prestart, hook)
		case "poststop":
			s.Hooks.Poststop = append(s.Hooks.Poststop, hook)
		default:
			b.fail(cty.GetAttrPath("hook").Index(cty.NumberIntVal(int64(i))).GetAttr("when"), "Invalid hook stage",
				"%q: a hook runs at prestart or poststop.", str(h, "when"))
		}
	}
}

// ParseSize reads a size such as 64MiB, 1g, 512k or 1048576 (bytes). As
// with Docker, k, m, g and t mean powers of 1024 with or without the i.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	numPart, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	f, err := strconv.ParseFloat(numPart, 64)
	if numPart == "" || err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size: write a number with an optional unit, e.g. 64MiB or 1g", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q has an unknown unit %q: use B, KiB, MiB, GiB or TiB (k, m, g, t also)", s, t[i:])
	}
	return int64(f * mult), nil
}

// Helpers reading the container's value; the shared ones are in providers.

var (
	str     = providers.String
	num     = providers.Number
	strList = providers.Strings
	numList = providers.Numbers
)

func boolean(v cty.Value, name string) bool {
	a := ctyobj.Attr(v, name)
	return !a.IsNull() && a.IsKnown() && a.True()
}

func optU64(v cty.Value, name string) *uint64 {
	a := ctyobj.Attr(v, name)
	if a.IsNull() {
		return nil
	}
	u, _ := a.AsBigFloat().Uint64()
	return &u
}

func optI64(v cty.Value, name string) *int64 {
	if v.GetAttr(name).IsNull() {
		return nil
	}
	i, _ := v.GetAttr(name).AsBigFloat().Int64()
	return &i
}

func strMap(v cty.Value, name string) map[string]string {
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return nil
	}
	out := map[string]string{}
	for k, e := range a.AsValueMap() {
		out[k] = e.AsString()
	}
	return out
}

func list(v cty.Value, name string) []cty.Value {
	a := ctyobj.Attr(v, name)
	if a.IsNull() || !a.IsKnown() || a.LengthInt() == 0 {
		return nil
	}
	return a.AsValueSlice()
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// suggest names the closest known name, for a typo like RLIMIT_SGPENDING.
func suggest[V any](given string, known map[string]V) string {
	best, bestD := "", 4
	for k := range known {
		if d := levenshtein.Distance(strings.ToUpper(given), strings.ToUpper(k), nil); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func fileMode(m uint32) *os.FileMode {
	fm := os.FileMode(m)
	return &fm
}

// knownCapability lists Linux's capabilities (capability.h, 6.x): the
// names of capNumbers, as the set suggest takes.
var knownCapability = func() map[string]bool {
	m := make(map[string]bool, len(capNumbers))
	for c := range capNumbers {
		m[c] = true
	}
	return m
}()
