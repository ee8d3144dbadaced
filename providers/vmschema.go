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
