package providers

import (
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Cost says what changing an attribute does to a running object. The plan
// shows it so that a user sees what will be disrupted before applying.
type Cost int

const (
	// CostNone is the zero value. In a schema it means "not given", and
	// Finalize turns it into Replace, the safe assumption; in a plan it is
	// the cost of a change that changes nothing.
	CostNone Cost = iota
	// InPlace changes the object while it keeps running (a firewall rule
	// set, a link impairment, cgroup limits, a run state).
	InPlace
	// Restart stops the object, reconfigures it and starts it again: same
	// identity, new process (a VM's memory or cpus).
	Restart
	// Replace destroys the object and creates a new one (a VM's image, a
	// container's rootfs).
	Replace
)

func (c Cost) String() string {
	switch c {
	case InPlace:
		return "in-place"
	case Restart:
		return "restart"
	case Replace:
		return "replace"
	}
	return "none"
}

// Attribute describes one argument or computed attribute of a block.
type Attribute struct {
	Type cty.Type
	// Required and Optional are for arguments a user writes; Computed
	// attributes are set by the provider (a pid, a console port). An
	// attribute that is Optional and Computed takes the provider's value
	// when the user leaves it out.
	Required, Optional, Computed bool
	// Default is used when an optional argument is left out. A null
	// Default (the zero cty.Value is treated as null) means "no value".
	Default cty.Value
	// Sensitive values are hidden in plans and outputs.
	Sensitive bool
	// Cost is what a change of this attribute costs.
	Cost Cost
	// Description is shown by tooling; keep it one sentence.
	Description string
	// Reference marks a string attribute that takes a resource (or lab):
	// target = container.host[0] stores that instance's address.
	Reference bool
	// Allowed lists the values a string attribute (or each element of a
	// list of strings) may take; empty means any. The configuration
	// checks it once, for every provider, with a "did you mean".
	Allowed []string
	// HostPath marks a string attribute that names a file or directory
	// on the host (relative paths are relative to the lab directory).
	// The configuration refuses one that leads outside the lab directory
	// unless the lab block sets allow_host_paths = true.
	HostPath bool
}

// OneOf sets the values an attribute allows and returns it, for one-line
// schema declarations.
func (a *Attribute) OneOf(values ...string) *Attribute {
	a.Allowed = values
	return a
}

// Path marks a as a host path (see HostPath) and returns it.
func (a *Attribute) Path() *Attribute {
	a.HostPath = true
	return a
}

// Nesting is how many times a nested block may appear.
type Nesting int

const (
	// NestingSingle blocks appear at most once and are an object (or null).
	NestingSingle Nesting = iota
	// NestingList blocks may repeat; order matters (firewall rules).
	NestingList
	// NestingMap blocks repeat with one label each, e.g. disk "hdb" {},
	// and are an object keyed by the label.
	NestingMap
)

// NestedBlock describes a block inside a resource body.
type NestedBlock struct {
	Nesting  Nesting
	Block    *Block
	MinItems int
	MaxItems int
	// Cost is what adding, removing or changing the block costs, unless
	// an attribute inside it says more.
	Cost Cost
	// Labels lists allowed labels for NestingMap; empty means any.
	Labels []string
}

// Block is a set of attributes and nested blocks.
type Block struct {
	Attributes map[string]*Attribute
	Blocks     map[string]*NestedBlock

	// implied caches ImpliedType once the schema is finalized: building
	// it per value decoded showed in profiles. hclSchema does the same
	// for HCLSchema.
	implied   cty.Type
	hclSchema *hcl.BodySchema
}

// ImpliedType is the object type of a block's value.
func (b *Block) ImpliedType() cty.Type {
	if b.implied != cty.NilType {
		return b.implied
	}
	return b.impliedType()
}

func (b *Block) impliedType() cty.Type {
	attrs := make(map[string]cty.Type, len(b.Attributes)+len(b.Blocks))
	for name, a := range b.Attributes {
		attrs[name] = a.Type
	}
	for name, nb := range b.Blocks {
		attrs[name] = nb.ImpliedType()
	}
	return cty.Object(attrs)
}

// ImpliedType is the type of a nested block's value inside its parent.
func (nb *NestedBlock) ImpliedType() cty.Type {
	et := nb.Block.ImpliedType()
	switch nb.Nesting {
	case NestingList:
		return cty.List(et)
	case NestingMap:
		return cty.Map(et)
	}
	return et
}

// HCLSchema is the body schema for decoding a block of this shape. Extra
// names (meta-arguments such as count) are added by the caller, to a copy:
// the schema returned is shared.
func (b *Block) HCLSchema() *hcl.BodySchema {
	if b.hclSchema != nil {
		return b.hclSchema
	}
	return b.buildHCLSchema()
}

func (b *Block) buildHCLSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, name := range slices.Sorted(maps.Keys(b.Attributes)) {
		a := b.Attributes[name]
		if a.Computed && !a.Optional && !a.Required {
			continue // purely computed: not writable
		}
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: name, Required: a.Required})
	}
	for _, name := range slices.Sorted(maps.Keys(b.Blocks)) {
		var labels []string
		if b.Blocks[name].Nesting == NestingMap {
			labels = []string{"name"}
		}
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: name, LabelNames: labels})
	}
	return s
}

// Schema is a resource type's schema as one provider implements it.
type Schema struct {
	Block
	// PortsAttr names the attribute that gives how many ports the node
	// has ("adapters" for a VM, "ports" for a container); empty for
	// resources that are not nodes. Its value sizes the port[n] tuple that
	// links take as endpoints.
	PortsAttr string
	// Description is one sentence for documentation and errors.
	Description string
	// Singleton says that two objects of one address cannot exist at
	// once (a firewall chain is named by its address in its namespace),
	// so create_before_destroy is refused; the text says why.
	Singleton string
}

// Finalize checks a schema for mistakes of the programmer (which panic, as
// gohcl does for bad struct tags) and fills defaults: an attribute or block
// without a cost costs a replacement, the safe assumption.
func (s *Schema) Finalize() *Schema {
	finalizeBlock(&s.Block, "")
	return s
}

func finalizeBlock(b *Block, path string) {
	for name, a := range b.Attributes {
		if a.Type == cty.NilType {
			panic(fmt.Sprintf("schema: attribute %s%s has no type", path, name))
		}
		if !a.Required && !a.Optional && !a.Computed {
			panic(fmt.Sprintf("schema: attribute %s%s is neither required, optional nor computed", path, name))
		}
		if a.Cost == CostNone {
			a.Cost = Replace
		}
		if a.Default == cty.NilVal {
			a.Default = cty.NullVal(a.Type)
		}
		if len(a.Allowed) > 0 && a.Type != cty.String && !a.Type.Equals(cty.List(cty.String)) {
			panic(fmt.Sprintf("schema: attribute %s%s has allowed values but is not a string or a list of strings", path, name))
		}
		if a.HostPath && a.Type != cty.String {
			panic(fmt.Sprintf("schema: host path %s%s is not a string", path, name))
		}
		if !a.Default.IsNull() && len(a.Allowed) > 0 && a.Type == cty.String && !slices.Contains(a.Allowed, a.Default.AsString()) {
			panic(fmt.Sprintf("schema: the default of %s%s is not an allowed value", path, name))
		}
	}
	for name, nb := range b.Blocks {
		if nb.Cost == CostNone {
			nb.Cost = Replace
		}
		finalizeBlock(nb.Block, path+name+".")
	}
	b.implied = b.impliedType()
	b.hclSchema = b.buildHCLSchema()
}
