package providers

import "github.com/zclconf/go-cty/cty"

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
		"state":         OptionalDefault(cty.StringVal("running"), InPlace, "running, stopped or paused").OneOf("running", "paused", "stopped"),
		"pid":           Computed(cty.Number, "the VM process's pid"),
		"mac_addresses": Computed(cty.List(cty.String), "the adapters' MAC addresses"),
	}
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
	R := Restart
	return &NestedBlock{Nesting: NestingSingle, Cost: R, Block: &Block{Attributes: map[string]*Attribute{
		"user_data":      Optional(cty.String, R, "the user-data file (a #cloud-config, a script, ...); by default a #cloud-config that writes the file blocks"),
		"meta_data":      Optional(cty.String, R, "the meta-data file; by default an instance-id and a local-hostname"),
		"network_config": Optional(cty.String, R, "the network-config file (cloud-init's network config version 1 or 2)"),
	}}}
}
