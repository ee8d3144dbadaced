package config

import (
	"fmt"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// A dynamic block writes a nested block once for every element of a
// collection, with Terraform's syntax (hcl/ext/dynblock's):
//
//	dynamic "impairment" {
//	  for_each = var.impairments
//	  iterator = imp            # optional; the block type's name otherwise
//	  labels   = [imp.key]      # for blocks that take a label
//	  content { delay = imp.value }
//	}
//
// It is decoded once, at load time, like any other block (so that a
// thousand instances never split a body again), and expanded when the
// instance is evaluated. dynblock itself expands a body per evaluation
// context, which would undo that; the schema, diagnostics and iterator
// semantics here are dynblock's.

// DynamicBlock is a dynamic block's header: what it iterates over and how
// it names the blocks it writes. Its content is the NestedContent's.
type DynamicBlock struct {
	ForEach  hcl.Expression
	Iterator string
	Labels   []hcl.Expression // nil when the block type takes no label
	// ContentRange is the content block's header, where diagnostics
	// about the blocks written point.
	ContentRange hcl.Range
}

var dynamicHeader = hcl.BlockHeaderSchema{Type: "dynamic", LabelNames: []string{"type"}}

func dynamicSchema(labels bool) *hcl.BodySchema {
	s := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "for_each", Required: true}, {Name: "iterator"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "content"}},
	}
	if labels {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: "labels", Required: true})
	}
	return s
}

// withDynamic is the schema of a body with the dynamic block added. It
// leaves s alone: s is the schema's cached copy (providers.Block), shared
// by every body of the type and read by several goroutines, which an
// append would grow by one block per body decoded.
func withDynamic(s *hcl.BodySchema) *hcl.BodySchema {
	blocks := make([]hcl.BlockHeaderSchema, len(s.Blocks), len(s.Blocks)+1)
	copy(blocks, s.Blocks)
	return &hcl.BodySchema{Attributes: s.Attributes, Blocks: append(blocks, dynamicHeader)}
}

// bodySchema is withDynamic(b.HCLSchema()), made once for each block
// schema and shared the same way: nothing changes it.
func bodySchema(b *providers.Block) *hcl.BodySchema {
	if s, ok := bodySchemas.Load(b); ok {
		return s.(*hcl.BodySchema)
	}
	s, _ := bodySchemas.LoadOrStore(b, withDynamic(b.HCLSchema()))
	return s.(*hcl.BodySchema)
}

// bodySchemas holds bodySchema's schemas, by block schema.
var bodySchemas sync.Map

// decodeDynamic decodes one dynamic block of a body whose schema is
// schema. It returns the block type it writes and its NestedContent.
func decodeDynamic(b *hcl.Block, schema *providers.Block) (string, *NestedContent, hcl.Diagnostics) {
	typ := b.Labels[0]
	nb, ok := schema.Blocks[typ]
	if !ok {
		return "", nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported block type",
			Detail:  fmt.Sprintf("Blocks of type %q are not expected here, so a dynamic block cannot write them.%s", typ, didYouMean(typ, sortedAttrKeys(schema.Blocks))),
			Subject: b.LabelRanges[0].Ptr()}}
	}
	labelled := nb.Nesting == providers.NestingMap
	sc, diags := b.Body.Content(dynamicSchema(labelled))
	if diags.HasErrors() {
		return "", nil, diags
	}
	dyn := &DynamicBlock{ForEach: sc.Attributes["for_each"].Expr, Iterator: typ}
	if a, ok := sc.Attributes["iterator"]; ok {
		tr, d := hcl.AbsTraversalForExpr(a.Expr)
		if d.HasErrors() || len(tr) != 1 {
			return "", nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid dynamic iterator name",
				Detail: "Dynamic iterator must be a single variable name, written bare (iterator = imp).", Subject: a.Expr.Range().Ptr()})
		}
		dyn.Iterator = tr.RootName()
	}
	if reserved[dyn.Iterator] {
		return "", nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid dynamic iterator name",
			Detail:  fmt.Sprintf("The iterator %q would hide the %s of the lab; name it with the iterator argument (iterator = item).", dyn.Iterator, dyn.Iterator),
			Subject: b.LabelRanges[0].Ptr()})
	}
	if a, ok := sc.Attributes["labels"]; ok {
		exprs, d := hcl.ExprList(a.Expr)
		diags = append(diags, d...)
		if d.HasErrors() {
			return "", nil, diags
		}
		if len(exprs) != 1 {
			return "", nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid dynamic block labels",
				Detail: fmt.Sprintf("Blocks of type %q take 1 label: labels = [%s.key].", typ, dyn.Iterator), Subject: a.Expr.Range().Ptr()})
		}
		dyn.Labels = exprs
	}
	switch len(sc.Blocks) {
	case 0:
		return "", nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing dynamic content block",
			Detail:  "A dynamic block must have a nested block of type \"content\" to describe the body of each generated block.",
			Subject: sc.MissingItemRange.Ptr()})
	case 1:
	default:
		return "", nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Extraneous dynamic content block",
			Detail: "Only one nested content block is allowed for each dynamic block.", Subject: sc.Blocks[1].DefRange.Ptr()})
	}
	dyn.ContentRange = sc.Blocks[0].DefRange
	inner, d := decodeContent(sc.Blocks[0].Body, nb.Block)
	diags = append(diags, d...)
	// What a dynamic block writes is not known until its for_each is.
	inner.HasDynamic = true
	return typ, &NestedContent{Dyn: dyn, Content: inner, DefRange: b.DefRange, TypeRange: b.LabelRanges[0]}, diags
}

// reserved are the names an iterator may not take.
var reserved = map[string]bool{"var": true, "local": true, "path": true, "lab": true, "count": true, "each": true}

// scopedExpr is an expression inside a dynamic block's content: its
// references to the iterator are not references to the lab.
type scopedExpr struct {
	hcl.Expression
	iterator string
}

func (e scopedExpr) Variables() []hcl.Traversal {
	var out []hcl.Traversal
	for _, tr := range e.Expression.Variables() {
		if tr.RootName() != e.iterator {
			out = append(out, tr)
		}
	}
	return out
}

// expanded is one block that evaluation sees: a written one, or one
// written by a dynamic block, with the context that holds its iterator.
type expanded struct {
	content *Content
	label   string
	ctx     *hcl.EvalContext
	rng     hcl.Range
}

// expandBlocks turns a body's blocks of one type into the blocks they
// stand for, in the order written. unknown is set when a for_each is not
// known yet: the number of blocks is not known either.
func expandBlocks(name string, blocks []*NestedContent, nb *providers.NestedBlock, ctx *hcl.EvalContext, bpath cty.Path, m *marks) (out []expanded, unknown bool, diags hcl.Diagnostics) {
	for _, blk := range blocks {
		if blk.Dyn == nil {
			out = append(out, expanded{content: blk.Content, label: blk.Label, ctx: ctx, rng: blk.DefRange})
			continue
		}
		dyn := blk.Dyn
		v, d := dyn.ForEach.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			unknown = true
			continue
		}
		plain, pvm := v.UnmarkDeepWithPaths()
		for _, pm := range pvm {
			for mk := range pm.Marks {
				switch mk := mk.(type) {
				case depMark:
					m.deps[mk.a] = true
				case sensitiveMark:
					m.sensitive = append(m.sensitive, append(cty.Path{}, bpath...))
				}
			}
		}
		bad := func(detail string) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid dynamic for_each value",
				Detail: detail, Subject: dyn.ForEach.Range().Ptr(), Expression: dyn.ForEach, EvalContext: ctx})
			unknown = true
		}
		switch {
		case !plain.IsKnown():
			// The content is still checked, with the iterator unknown, so
			// that a mistake does not wait for the value.
			ictx := ctx.NewChild()
			ictx.Variables = map[string]cty.Value{dyn.Iterator: cty.ObjectVal(map[string]cty.Value{"key": cty.DynamicVal, "value": cty.DynamicVal})}
			_, d := evalContent(blk.Content, nb.Block, ictx, nil, &marks{deps: map[addr.Instance]bool{}})
			for _, diag := range d {
				if diag.Severity == hcl.DiagError {
					diags = append(diags, diag)
				}
			}
			unknown = true
			continue
		case plain.IsNull():
			bad("Cannot use a null value in for_each.")
			continue
		case !plain.CanIterateElements():
			bad(fmt.Sprintf("Cannot use a %s value in for_each. An iterable collection is required: a list, a set, a map or an object.", plain.Type().FriendlyName()))
			continue
		}
		// Elements keep their marks (a sensitive value stays sensitive in
		// the attributes that read it).
		_, colMarks := v.Unmark()
		vv, _ := v.Unmark()
		for it := vv.ElementIterator(); it.Next(); {
			key, val := it.Element()
			if plain.Type().IsSetType() {
				key = val
			}
			iter := cty.ObjectVal(map[string]cty.Value{"key": key.WithMarks(colMarks), "value": val.WithMarks(colMarks)})
			ictx := ctx.NewChild()
			ictx.Variables = map[string]cty.Value{dyn.Iterator: iter}
			e := expanded{content: blk.Content, ctx: ictx, rng: dyn.ContentRange}
			if len(dyn.Labels) > 0 {
				lv, d := dyn.Labels[0].Value(ictx)
				diags = append(diags, d...)
				if d.HasErrors() {
					unknown = true
					continue
				}
				lv, _ = lv.UnmarkDeep()
				lv, err := fastConvert(lv, cty.String)
				if err != nil || lv.IsNull() || !lv.IsKnown() {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid dynamic block label",
						Detail:  "A dynamic block's label is a known string, for example labels = [" + dyn.Iterator + ".key].",
						Subject: dyn.Labels[0].Range().Ptr(), Expression: dyn.Labels[0], EvalContext: ictx})
					unknown = true
					continue
				}
				e.label = lv.AsString()
				if len(nb.Labels) > 0 && !contains(nb.Labels, e.label) {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid dynamic block label",
						Detail:  fmt.Sprintf("A %s block's label is one of %s, not %q.%s", name, orList(nb.Labels), e.label, didYouMean(e.label, nb.Labels)),
						Subject: dyn.Labels[0].Range().Ptr(), Expression: dyn.Labels[0], EvalContext: ictx})
					continue
				}
			}
			out = append(out, e)
		}
	}
	return out, unknown, diags
}

// dynamicIndex is the index of the first dynamic block of blocks, or -1.
func dynamicIndex(blocks []*NestedContent) int {
	for i, b := range blocks {
		if b.Dyn != nil {
			return i
		}
	}
	return -1
}

// hasDynamic reports whether any of blocks is a dynamic block.
func hasDynamic(blocks []*NestedContent) bool { return dynamicIndex(blocks) >= 0 }

// checkExpanded checks what only the expanded blocks can show: a single
// block written twice, a label written twice, too few blocks.
func checkExpanded(name string, nb *providers.NestedBlock, blocks []expanded, written hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if nb.Nesting == providers.NestingSingle && len(blocks) > 1 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + name + " block",
			Detail: fmt.Sprintf("Only one %s block is allowed here; this writes %d.", name, len(blocks)), Subject: blocks[1].rng.Ptr()})
	}
	if nb.Nesting == providers.NestingMap {
		seen := map[string]hcl.Range{}
		for _, b := range blocks {
			if prev, dup := seen[b.label]; dup {
				diags = append(diags, duplicate(name, b.label, b.rng, prev))
				continue
			}
			seen[b.label] = b.rng
		}
	}
	if nb.MinItems > 0 && len(blocks) < nb.MinItems {
		rng := written
		if len(blocks) > 0 {
			rng = blocks[0].rng
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing " + name + " block",
			Detail: fmt.Sprintf("At least %d %s block(s) are required here; the dynamic blocks write %d.", nb.MinItems, name, len(blocks)), Subject: rng.Ptr()})
	}
	return diags
}

// evalDynamic evaluates the blocks of one type when a dynamic block is
// among them.
func evalDynamic(name string, nb *providers.NestedBlock, blocks []*NestedContent, ctx *hcl.EvalContext, bpath cty.Path, m *marks) (cty.Value, hcl.Diagnostics) {
	exp, unknown, diags := expandBlocks(name, blocks, nb, ctx, bpath, m)
	et := nb.Block.ImpliedType()
	// The content is written once: a mistake in it is reported once, not
	// once for every block it writes.
	seen := map[string]bool{}
	eval := func(e expanded, path cty.Path) cty.Value {
		v, d := evalContent(e.content, nb.Block, e.ctx, path, m)
		for _, diag := range d {
			k := diag.Error()
			if !seen[k] {
				seen[k] = true
				diags = append(diags, diag)
			}
		}
		return v
	}
	if unknown {
		return cty.UnknownVal(nb.ImpliedType()), diags
	}
	if d := checkExpanded(name, nb, exp, blocks[0].DefRange); d.HasErrors() {
		return cty.UnknownVal(nb.ImpliedType()), append(diags, d...)
	}
	switch nb.Nesting {
	case providers.NestingSingle:
		if len(exp) == 0 {
			return cty.NullVal(et), diags
		}
		return eval(exp[0], bpath), diags
	case providers.NestingList:
		if len(exp) == 0 {
			return cty.ListValEmpty(et), diags
		}
		elems := make([]cty.Value, len(exp))
		for i, e := range exp {
			elems[i] = eval(e, append(append(cty.Path{}, bpath...), cty.IndexStep{Key: cty.NumberIntVal(int64(i))}))
		}
		return cty.ListVal(elems), diags
	default:
		if len(exp) == 0 {
			return cty.MapValEmpty(et), diags
		}
		elems := make(map[string]cty.Value, len(exp))
		for _, e := range exp {
			elems[e.label] = eval(e, append(append(cty.Path{}, bpath...), cty.IndexStep{Key: cty.StringVal(e.label)}))
		}
		return cty.MapVal(elems), diags
	}
}
