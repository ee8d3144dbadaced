package container

import (
	"github.com/labform/labform/internal/ctyobj"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container/image"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sync/singleflight"
)

// Provider serves container resources.
type Provider struct {
	lab      providers.Lab
	rt       ociRuntime
	labNetns string
	store    image.Store
	// resolving collapses concurrent resolutions of one reference.
	resolving singleflight.Group
}

var (
	_ providers.Provider    = (*Provider)(nil)
	_ providers.BatchReader = (*Provider)(nil)
)

// New returns the container provider.
func New() *Provider { return &Provider{} }

func (p *Provider) Name() string { return "container" }

// Tools is what init checks for. The runtime setting can name crun or
// youki instead; runc is the one this provider is tested with.
func (p *Provider) Tools() []string { return []string{"runc"} }

func (p *Provider) ConfigSchema() *providers.Block {
	return &providers.Block{Attributes: map[string]*providers.Attribute{
		"runtime":      providers.OptionalDefault(cty.StringVal("runc"), providers.Replace, "the OCI runtime (runc, crun, youki)"),
		"tool_timeout": providers.ToolTimeoutAttribute(),
		"image_store":  providers.OptionalDefault(cty.StringVal(image.DefaultStore), providers.Replace, "where images are kept unpacked, shared by every lab"),
	}}
}

// Schemas is the container type. Each attribute's cost is what a change
// of it takes with runc: what the OCI spec fixes at create (the rootfs,
// the image, namespaces, privileged) and the number of ports replace the
// container; addresses and routes live in the network namespace labform
// pinned, which outlives the process, and change in place.
func (p *Provider) Schemas() map[string]*providers.Schema {
	str, num := cty.String, cty.Number
	opt := providers.Optional
	block := func(n providers.Nesting, c providers.Cost, attrs map[string]*providers.Attribute, blocks map[string]*providers.NestedBlock) *providers.NestedBlock {
		return &providers.NestedBlock{Nesting: n, Cost: c, Block: &providers.Block{Attributes: attrs, Blocks: blocks}}
	}
	mapping := cty.List(cty.Object(map[string]cty.Type{"container_id": num, "host_id": num, "size": num}))
	attrs := map[string]*providers.Attribute{
		"rootfs":           opt(str, providers.Replace, "the root filesystem directory, relative to the lab (or image)").Path(),
		"image":            opt(str, providers.Replace, "the image: a registry reference, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE (or rootfs)"),
		"image_digest":     providers.Computed(str, "the digest the image reference named when planned"),
		"files_digest":     providers.Computed(cty.Map(str), "each file block's path to the digest of what it puts there"),
		"readonly_rootfs":  providers.OptionalDefault(cty.False, providers.Replace, "mount the rootfs read-only"),
		"command":          opt(cty.List(str), providers.Replace, "the process's argv"),
		"env":              opt(cty.Map(str), providers.Replace, "environment variables"),
		"cwd":              providers.OptionalDefault(cty.StringVal("/"), providers.Replace, "the working directory"),
		"hostname":         opt(str, providers.Replace, "the UTS hostname"),
		"ports":            providers.OptionalDefault(cty.NumberIntVal(1), providers.Replace, "network interfaces eth0..eth<n-1>, the container's ports"),
		"addresses":        opt(cty.Map(cty.List(str)), providers.InPlace, "interface name to a list of CIDRs"),
		"routes":           opt(cty.Map(str), providers.InPlace, "destination CIDR or default to gateway"),
		"capabilities":     opt(cty.List(str), providers.Replace, "capabilities, e.g. CAP_NET_RAW (default: docker's, plus NET_ADMIN and NET_RAW)"),
		"cap_add":          opt(cty.List(str), providers.Replace, "capabilities added to capabilities (or to the default set), as docker's --cap-add"),
		"cap_drop":         opt(cty.List(str), providers.Replace, "capabilities taken out of capabilities (or of the default set), as docker's --cap-drop"),
		"privileged":       providers.OptionalDefault(cty.False, providers.Replace, "what docker run --privileged gives: every capability, every device, /proc and /sys writable"),
		"sysctl":           opt(cty.Map(str), providers.Replace, "kernel parameters in the container's namespaces"),
		"namespaces":       opt(cty.Map(str), providers.Replace, "namespace type to a path to join, or \"\" for a new one"),
		"uid_mappings":     opt(mapping, providers.Replace, "user namespace uid mappings"),
		"gid_mappings":     opt(mapping, providers.Replace, "user namespace gid mappings"),
		"apparmor_profile": opt(str, providers.Replace, "the AppArmor profile"),
		"selinux_label":    opt(str, providers.Replace, "the SELinux process label"),
		"state":            providers.StateAttribute(),
		"pid":              providers.Computed(num, "the container's init pid"),
		"netns":            providers.Computed(str, "the pinned network namespace's path"),
	}
	providers.AddManagementAttributes(attrs, providers.InPlace) // set on mgmt0 in place
	blocks := map[string]*providers.NestedBlock{
		"file": providers.FileBlock(),
		"user": block(providers.NestingSingle, providers.Replace, map[string]*providers.Attribute{
			"uid":             providers.OptionalDefault(cty.NumberIntVal(0), providers.Replace, "user id"),
			"gid":             providers.OptionalDefault(cty.NumberIntVal(0), providers.Replace, "group id"),
			"additional_gids": opt(cty.List(num), providers.Replace, "more group ids"),
		}, nil),
		"mount": block(providers.NestingList, providers.Replace, map[string]*providers.Attribute{
			"source":      opt(str, providers.Replace, "the source; relative bind sources are relative to the lab").Path(),
			"destination": providers.Required(str, providers.Replace, "the path in the container"),
			"type":        providers.OptionalDefault(cty.StringVal("bind"), providers.Replace, "the filesystem type"),
			"options":     opt(cty.List(str), providers.Replace, "mount options"),
		}, nil),
		"rlimit": block(providers.NestingList, providers.Replace, map[string]*providers.Attribute{
			"type": providers.Required(str, providers.Replace, "RLIMIT_NOFILE, ..."),
			"soft": providers.Required(num, providers.Replace, "the soft limit"),
			"hard": providers.Required(num, providers.Replace, "the hard limit"),
		}, nil),
		"device": block(providers.NestingList, providers.Replace, map[string]*providers.Attribute{
			"path":        providers.Required(str, providers.Replace, "the device node's path"),
			"type":        providers.Required(str, providers.Replace, "c, b, u or p").OneOf("c", "b", "u", "p"),
			"major":       opt(num, providers.Replace, "major number"),
			"minor":       opt(num, providers.Replace, "minor number"),
			"permissions": providers.OptionalDefault(cty.StringVal("rwm"), providers.Replace, "cgroup access: r, w, m"),
		}, nil),
		"resources": block(providers.NestingSingle, providers.InPlace, map[string]*providers.Attribute{
			"memory":               opt(str, providers.InPlace, "memory limit, e.g. 64MiB"),
			"memory_reservation":   opt(str, providers.InPlace, "soft memory limit"),
			"memory_swap":          opt(str, providers.InPlace, "memory plus swap limit"),
			"swappiness":           opt(num, providers.InPlace, "0-100"),
			"cpu_shares":           opt(num, providers.InPlace, "relative CPU weight"),
			"cpu_quota":            opt(num, providers.InPlace, "CPU time per period, microseconds"),
			"cpu_period":           opt(num, providers.InPlace, "CFS period, microseconds"),
			"cpuset_cpus":          opt(str, providers.InPlace, "CPUs, e.g. 0-1"),
			"cpuset_mems":          opt(str, providers.InPlace, "memory nodes"),
			"pids":                 opt(num, providers.InPlace, "maximum number of processes"),
			"blkio_weight":         opt(num, providers.InPlace, "block IO weight, 10-1000"),
			"oom_kill_disable":     opt(cty.Bool, providers.InPlace, "disable the OOM killer"),
			"cpu_realtime_runtime": opt(num, providers.InPlace, "realtime CPU time per period, microseconds"),
			"cpu_realtime_period":  opt(num, providers.InPlace, "realtime period, microseconds"),
			"hugepage_limits":      opt(cty.Map(str), providers.InPlace, "page size (2MB, 1GB) to a limit, e.g. 64MiB"),
			"net_cls_classid":      opt(num, providers.InPlace, "the net_cls class id of the container's packets"),
			"net_prio":             opt(cty.Map(num), providers.InPlace, "interface name to net_prio priority"),
		}, map[string]*providers.NestedBlock{
			"blkio_throttle": block(providers.NestingList, providers.InPlace, map[string]*providers.Attribute{
				"direction": providers.Required(str, providers.InPlace, "read_bps, write_bps, read_iops or write_iops").OneOf("read_bps", "write_bps", "read_iops", "write_iops"),
				"major":     providers.Required(num, providers.InPlace, "the block device's major number"),
				"minor":     providers.Required(num, providers.InPlace, "the block device's minor number"),
				"rate":      providers.Required(num, providers.InPlace, "bytes or operations per second"),
			}, nil),
		}),
		"seccomp": block(providers.NestingSingle, providers.Replace, map[string]*providers.Attribute{
			"default_action": providers.Required(str, providers.Replace, "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, ..."),
			"architectures":  opt(cty.List(str), providers.Replace, "SCMP_ARCH_X86_64, ..."),
		}, map[string]*providers.NestedBlock{
			"syscall": block(providers.NestingList, providers.Replace, map[string]*providers.Attribute{
				"names":  providers.Required(cty.List(str), providers.Replace, "syscall names"),
				"action": providers.Required(str, providers.Replace, "the action for these syscalls"),
			}, map[string]*providers.NestedBlock{
				"arg": block(providers.NestingList, providers.Replace, map[string]*providers.Attribute{
					"index":     providers.Required(num, providers.Replace, "the argument's index"),
					"value":     providers.Required(num, providers.Replace, "the value compared"),
					"value_two": opt(num, providers.Replace, "the second value (masked equality)"),
					"op":        providers.Required(str, providers.Replace, "SCMP_CMP_EQ, ..."),
				}, nil),
			}),
		}),
		"hook": block(providers.NestingList, providers.Replace, map[string]*providers.Attribute{
			"when": providers.Required(str, providers.Replace, "prestart or poststop").OneOf("prestart", "poststop"),
			"path": providers.Required(str, providers.Replace, "the program"),
			"args": opt(cty.List(str), providers.Replace, "its argv"),
			"env":  opt(cty.List(str), providers.Replace, "its environment, K=V"),
		}, nil),
	}
	return map[string]*providers.Schema{"container": {
		Block:       providers.Block{Attributes: attrs, Blocks: blocks},
		PortsAttr:   "ports",
		Description: "a container run by an OCI runtime",
	}}
}

var _ providers.Validator = (*Provider)(nil)

// ValidateResource checks what the schema's types cannot: names of
// rlimits, capabilities, mount options, seccomp actions, sizes. It runs
// the same translation apply uses, so validate and apply agree.
func (p *Provider) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	if typ != "container" || v.IsNull() {
		return nil
	}
	// pid and netns are set by apply; anything else still unknown comes
	// from another resource and is checked when apply knows it.
	b := ctyobj.From(v)
	b.Set("pid", cty.NullVal(cty.Number))
	b.Set("netns", cty.NullVal(cty.String))
	b.Set("image_digest", cty.NullVal(cty.String))
	b.Set("files_digest", cty.NullVal(cty.Map(cty.String)))
	v = b.Value()
	errs := append(validateRoot(v), validateFiles(v)...)
	if !ctyobj.WhollyKnown(v) {
		return errs
	}
	_, specErrs := BuildSpec(v, SpecEnv{})
	return append(errs, specErrs...)
}
