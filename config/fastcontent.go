package config

import (
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// fastContent is body.PartialContent(schema) (partial) or
// body.Content(schema) for a block's body as the parser made it, when HCL
// would report nothing: every attribute and block is one schema names (or
// one skip names: the meta-arguments an earlier PartialContent of the same
// body took, which the body it returned hides), every required attribute
// is there, and every block has the labels schema gives its type. It
// reports false otherwise, and HCL then says what is wrong. It exists
// because HCL's way (a copy of the body hiding what was taken, maps of
// what is hidden and wanted, for each of a large lab's bodies) was a
// tenth of loading it.
//
// TestFastContentIsHCL compares it with HCL's on the repository's labs.
func fastContent(body hcl.Body, schema, skip *hcl.BodySchema, partial bool) (*hcl.BodyContent, bool) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil, false
	}
	skipAttr := func(name string) bool {
		if skip != nil {
			for _, a := range skip.Attributes {
				if a.Name == name {
					return true
				}
			}
		}
		return false
	}
	// The attributes written (a few) are looked up in the schema's (a
	// large block type has dozens), then the required ones are looked for.
	idx := indexOf(schema)
	attrs := make(hcl.Attributes, len(sb.Attributes))
	for name, a := range sb.Attributes {
		switch {
		case skipAttr(name):
		case idx.attrs[name]:
			attrs[name] = a.AsHCLAttribute()
		case !partial:
			return nil, false // an argument not expected here
		}
	}
	for _, name := range idx.required {
		if _, ok := attrs[name]; !ok {
			return nil, false
		}
	}
	var blocks hcl.Blocks
Blocks:
	for _, b := range sb.Blocks {
		if skip != nil {
			for _, bs := range skip.Blocks {
				if bs.Type == b.Type {
					continue Blocks
				}
			}
		}
		for _, bs := range schema.Blocks {
			if bs.Type == b.Type {
				if len(b.Labels) != len(bs.LabelNames) {
					return nil, false
				}
				blocks = append(blocks, b.AsHCLBlock())
				continue Blocks
			}
		}
		if !partial {
			return nil, false // a block type not expected here
		}
	}
	return &hcl.BodyContent{Attributes: attrs, Blocks: blocks, MissingItemRange: sb.MissingItemRange()}, true
}

// schemaIndex is a body schema's attribute names, and its required ones.
type schemaIndex struct {
	attrs    map[string]bool
	required []string
}

// schemaIndexes holds the index of each schema fastContent is given (the
// meta-arguments' and bodySchema's, made once each).
var schemaIndexes sync.Map

func indexOf(schema *hcl.BodySchema) *schemaIndex {
	if x, ok := schemaIndexes.Load(schema); ok {
		return x.(*schemaIndex)
	}
	idx := &schemaIndex{attrs: make(map[string]bool, len(schema.Attributes))}
	for _, as := range schema.Attributes {
		idx.attrs[as.Name] = true
		if as.Required {
			idx.required = append(idx.required, as.Name)
		}
	}
	x, _ := schemaIndexes.LoadOrStore(schema, idx)
	return x.(*schemaIndex)
}
