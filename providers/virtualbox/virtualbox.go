package virtualbox

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// Provider serves vm resources with provider = virtualbox.
type Provider struct {
	lab providers.Lab
	vb  vbox

	once     sync.Once
	props    map[string]string // list systemproperties, read once
	propsErr error
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Validator = (*Provider)(nil)
)

// New returns the virtualbox provider.
func New() *Provider {
	return &Provider{vb: vbox{path: "VBoxManage", retries: 5, backoff: 100 * time.Millisecond}}
}

func (p *Provider) Name() string    { return "virtualbox" }
func (p *Provider) Tools() []string { return []string{"VBoxManage"} }

func (p *Provider) ConfigSchema() *providers.Block {
	return &providers.Block{Attributes: map[string]*providers.Attribute{
		"vboxmanage":   providers.OptionalDefault(cty.StringVal("VBoxManage"), providers.InPlace, "the VBoxManage program"),
		"tool_timeout": providers.ToolTimeoutAttribute(),
	}}
}

func (p *Provider) Schemas() map[string]*providers.Schema {
	attrs := providers.CommonVMAttributes()
	providers.AddManagementAttributes(attrs, providers.Restart) // the management adapter is set while powered off
	attrs["template"] = providers.Required(cty.String, providers.Replace, "the VirtualBox VM to clone")
	attrs["linked_clone"] = providers.OptionalDefault(cty.True, providers.Replace, "a linked clone from a snapshot of the template")
	attrs["headless"] = providers.OptionalDefault(cty.True, providers.Restart, "start without a window")
	attrs["adapter_start_index"] = providers.OptionalDefault(cty.NumberIntVal(0), providers.Restart, "the first NIC labform uses")
	attrs["state"].Description = "running, stopped, paused or saved"
	attrs["state"].OneOf(vmStates...)
	attrs["console"].OneOf("telnet", "none")
	attrs["adapter_type"].OneOf(slices.Sorted(maps.Keys(nicTypes))...)
	attrs["shutdown_timeout"] = providers.OptionalDefault(cty.NumberIntVal(30), providers.InPlace, "seconds an ACPI shutdown may take before a power off")
	return map[string]*providers.Schema{"vm": {
		Block:       providers.Block{Attributes: attrs, Blocks: providers.CommonVMBlocks()},
		PortsAttr:   "adapters",
		Description: "a VirtualBox virtual machine",
	}}
}
