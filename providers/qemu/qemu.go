package qemu

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// Provider serves vm resources with provider = qemu.
type Provider struct {
	lab      providers.Lab
	binary   string // the provider block's binary; empty: qemu-system-<platform>
	accel    string // auto, kvm or tcg
	platform string
	timeout  time.Duration // tool_timeout: qemu-img, a QEMU start, a QMP connection; 0 is labnet's default

	mu    sync.Mutex
	ports map[int]bool // console ports handed out by this process
}

var (
	_ providers.Provider    = (*Provider)(nil)
	_ providers.Validator   = (*Provider)(nil)
	_ providers.HostChecker = (*Provider)(nil)
)

// New returns the qemu provider.
func New() *Provider {
	return &Provider{accel: "auto", platform: "x86_64", ports: map[int]bool{}}
}

func (p *Provider) Name() string { return "qemu" }

// Tools are the programs the provider runs.
func (p *Provider) Tools() []string { return []string{"qemu-system-x86_64", "qemu-img"} }

func (p *Provider) ConfigSchema() *providers.Block {
	return &providers.Block{Attributes: map[string]*providers.Attribute{
		"accel":        providers.OptionalDefault(cty.StringVal("auto"), providers.Restart, "kvm when /dev/kvm is usable, else tcg (auto), or kvm or tcg").OneOf("auto", "kvm", "tcg"),
		"binary":       providers.Optional(cty.String, providers.Restart, "the qemu-system binary; qemu-img is taken from beside it"),
		"platform":     providers.OptionalDefault(cty.StringVal("x86_64"), providers.Replace, "the default platform (x86_64, aarch64, ...)"),
		"tool_timeout": providers.ToolTimeoutAttribute(),
	}}
}

// Schemas is the vm type: the attributes every VM provider shares
// (providers.CommonVMAttributes) and QEMU's own. Each attribute's cost
// says what a change of it takes; almost everything is part of the
// command line, so a change restarts the process, and a new image
// replaces the VM (its disk is an overlay of the old image).
func (p *Provider) Schemas() map[string]*providers.Schema {
	attrs := providers.CommonVMAttributes()
	providers.AddManagementAttributes(attrs, providers.Restart) // the management NIC comes with the process
	for k, v := range map[string]*providers.Attribute{
		"image":            providers.Optional(cty.String, providers.Replace, "the hda image; a linked clone (qcow2 overlay) by default").Path(),
		"hda_interface":    providers.OptionalDefault(cty.StringVal("ide"), providers.Restart, "ide, sata, scsi or virtio").OneOf(diskInterfaces...),
		"cdrom":            providers.Optional(cty.String, providers.Restart, "an ISO image").Path(),
		"bios":             providers.Optional(cty.String, providers.Restart, "a BIOS image").Path(),
		"kernel":           providers.Optional(cty.String, providers.Restart, "a kernel to boot directly").Path(),
		"initrd":           providers.Optional(cty.String, providers.Restart, "an initrd for kernel").Path(),
		"kernel_args":      providers.Optional(cty.String, providers.Restart, "the kernel command line"),
		"boot_order":       providers.OptionalDefault(cty.StringVal("c"), providers.Restart, "qemu's -boot order letters"),
		"linked_clone":     providers.OptionalDefault(cty.True, providers.Replace, "use qcow2 overlays over the images"),
		"acpi_shutdown":    providers.OptionalDefault(cty.False, providers.InPlace, "stop with an ACPI power button press first"),
		"shutdown_timeout": providers.OptionalDefault(cty.NumberIntVal(60), providers.InPlace, "seconds to wait for an ACPI shutdown"),
		"cpu_throttling":   providers.OptionalDefault(cty.NumberIntVal(0), providers.Restart, "limit CPU use to this percentage (0: off)"),
		"process_priority": providers.OptionalDefault(cty.StringVal("normal"), providers.InPlace, "realtime, very high, high, normal, low or very low").OneOf(slices.Sorted(maps.Keys(priorities))...),
		"extra_args":       providers.Optional(cty.String, providers.Restart, "more qemu arguments, split like a shell; %vm-name% etc. substituted"),
		"accel":            providers.Optional(cty.String, providers.Restart, "kvm, tcg or auto; defaults to the provider's").OneOf("auto", "kvm", "tcg"),
		"platform":         providers.Optional(cty.String, providers.Replace, "x86_64, aarch64, ...; defaults to the provider's"),
		"qmp_socket":       providers.Computed(cty.String, "the QMP unix socket"),
		"guest_agent":      providers.OptionalDefault(cty.False, providers.Restart, "a virtio-serial channel for qemu-ga (org.qemu.guest_agent.0), which labform exec uses"),
	} {
		attrs[k] = v
	}
	attrs["adapter_type"].OneOf(slices.Sorted(maps.Keys(adapterTypes))...)
	disk := &providers.NestedBlock{Nesting: providers.NestingMap, Cost: providers.Restart,
		Labels: []string{"hdb", "hdc", "hdd"},
		Block: &providers.Block{Attributes: map[string]*providers.Attribute{
			"image":     providers.Required(cty.String, providers.Replace, "the disk image").Path(),
			"interface": providers.OptionalDefault(cty.StringVal("ide"), providers.Restart, "ide, sata, scsi or virtio").OneOf(diskInterfaces...),
		}}}
	blocks := providers.CommonVMBlocks()
	blocks["disk"] = disk
	return map[string]*providers.Schema{"vm": {
		Block:       providers.Block{Attributes: attrs, Blocks: blocks},
		PortsAttr:   "adapters",
		Description: "a QEMU virtual machine",
	}}
}
