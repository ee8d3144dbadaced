package providers

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// CommonVMAttributes are the vm attributes every VM provider has. Each call
// returns fresh attributes that the caller may extend.
func CommonVMAttributes() map[string]*Attribute {
	return map[string]*Attribute{
		"memory":        OptionalDefault(cty.NumberIntVal(256), Restart, "MiB of memory"),
		"cpus":          OptionalDefault(cty.NumberIntVal(1), Restart, "virtual CPUs"),
		"adapters":      OptionalDefault(cty.NumberIntVal(1), Restart, "network adapters, which are the VM's ports"),
		"adapter_type":  Optional(cty.String, Restart, "the adapters' model"),
		"mac_address":   Optional(cty.String, Restart, "the base MAC address; adapter n gets base+n"),
		"console":       OptionalDefault(cty.StringVal("telnet"), Restart, "telnet, vnc, spice or none").OneOf("telnet", "vnc", "spice", "none"),
		"console_port":  OptionalComputed(cty.Number, Restart, "the console's host port; allocated when not set"),
		"state":         StateAttribute(),
		"pid":           Computed(cty.Number, "the VM process's pid"),
		"mac_addresses": Computed(cty.List(cty.String), "the adapters' MAC addresses"),
	}
}

// ValidateCommonVM checks the attributes of CommonVMAttributes and
// CommonVMBlocks beyond their types, the same way for every VM provider;
// a provider adds the checks of its own attributes. maxAdapters is the
// most adapters the provider can give a VM. An attribute not yet known is
// left for later; every error names its attribute, so the diagnostic
// points at its line.
func ValidateCommonVM(v cty.Value, maxAdapters int) []*AttrError {
	var errs []*AttrError
	fail := func(name, summary, detail string, args ...interface{}) {
		errs = append(errs, &AttrError{Path: cty.GetAttrPath(name), Summary: summary, Detail: fmt.Sprintf(detail, args...)})
	}
	known := func(name string) bool { a := v.GetAttr(name); return a.IsKnown() && !a.IsNull() }
	num := func(name string) int { return int(Number(v, name)) }
	if n := num("memory"); known("memory") && n < 1 {
		fail("memory", "Invalid memory", "%d MiB: a VM needs at least 1 MiB.", n)
	}
	if n := num("cpus"); known("cpus") && (n < 1 || n > 255) {
		fail("cpus", "Invalid cpus", "%d: between 1 and 255.", n)
	}
	if n := num("adapters"); known("adapters") && (n < 0 || n > maxAdapters) {
		fail("adapters", "Invalid adapters", "%d: between 0 and %d.", n, maxAdapters)
	}
	if m := String(v, "mac_address"); m != "" {
		if base, ok := BaseMAC(m); !ok || !macPattern.MatchString(m) {
			fail("mac_address", "Invalid MAC address", "%q: six hexadecimal pairs separated by colons, such as 0c:7a:1e:00:00:00.", m)
		} else if base>>40&1 == 1 {
			fail("mac_address", "Multicast MAC address", "%q: the first byte is odd, which makes a multicast address; a NIC needs a unicast one.", m)
		}
	}
	if p := num("console_port"); known("console_port") {
		if p < 1 || p > 65535 {
			fail("console_port", "Invalid console port", "%d: between 1 and 65535.", p)
		} else if String(v, "console") == "vnc" && p < 5900 {
			fail("console_port", "Invalid VNC port", "%d: a VNC display's port is 5900 or more.", p)
		}
	}
	return append(errs, ValidateFiles(v, VMNoOnChange)...)
}

// CommonVMBlocks are the vm blocks every VM provider has: file blocks and
// a cloud_init block, which go on the VM's config disk (providers/cidata).
func CommonVMBlocks() map[string]*NestedBlock {
	return map[string]*NestedBlock{"file": FileBlock(), "cloud_init": CloudInitBlock()}
}

// VMNoOnChange is why a vm's file block cannot have on_change.
const VMNoOnChange = "on_change runs a command in the node, which for a VM needs an agent in the guest that labform does not have yet. Leave it out: a change of a VM's files rebuilds its config disk and restarts the VM, and a cloud-init guest writes the new files at boot."

// CloudInitBlock is a vm's cloud_init block: the standard NoCloud files,
// written as they are to the config disk.
func CloudInitBlock() *NestedBlock {
	return &NestedBlock{Nesting: NestingSingle, Cost: Restart, Block: &Block{Attributes: map[string]*Attribute{
		"user_data":      Optional(cty.String, Restart, "the user-data file (a #cloud-config, a script, ...); by default a #cloud-config that writes the file blocks"),
		"meta_data":      Optional(cty.String, Restart, "the meta-data file; by default an instance-id and a local-hostname"),
		"network_config": Optional(cty.String, Restart, "the network-config file (cloud-init's network config version 1 or 2)"),
	}}}
}
