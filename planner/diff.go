package planner

import (
	"github.com/labform/labform/config"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// diffResult is what comparing a prior object with its desired value gives.
type diffResult struct {
	after   cty.Value
	cost    providers.Cost // CostNone when nothing changes
	changes []PathCost
}

// diffInstance computes the planned value of an existing object and the
// cost of getting there. Attributes that only the provider sets keep their
// prior value; ignore_changes keeps the prior value of the listed
// arguments.
func diffInstance(schema *providers.Schema, lc config.Lifecycle, prior, desired cty.Value) diffResult {
	pa := prior.AsValueMap()
	da := desired.AsValueMap()
	after := make(map[string]cty.Value, len(da))
	for k, v := range da {
		after[k] = v
	}
	ignored := map[string]bool{}
	for _, n := range lc.IgnoreChanges {
		ignored[n] = true
	}
	res := diffResult{}
	for name, a := range schema.Attributes {
		pv := pa[name]
		if a.Computed && !after[name].IsKnown() {
			after[name] = pv
			continue
		}
		if lc.IgnoreAll || ignored[name] {
			after[name] = pv
			continue
		}
		if !valuesEqual(pv, after[name]) {
			res.note(cty.GetAttrPath(name), a.Cost)
		}
	}
	for name, nb := range schema.Blocks {
		if lc.IgnoreAll || ignored[name] {
			after[name] = pa[name]
			continue
		}
		if !valuesEqual(pa[name], after[name]) {
			res.note(cty.GetAttrPath(name), blockCost(nb, pa[name], after[name]))
		}
	}
	switch res.cost {
	case providers.Replace:
		// A new object: what the provider computes is not known yet.
		for name, a := range schema.Attributes {
			if a.Computed && !a.Optional {
				after[name] = cty.UnknownVal(a.Type)
			}
		}
	case providers.Restart:
		// Same object, new process: pids and the like change.
		for name, a := range schema.Attributes {
			if a.Computed && !a.Optional {
				after[name] = cty.UnknownVal(a.Type)
			}
		}
	}
	res.after = cty.ObjectVal(after)
	return res
}

func (r *diffResult) note(p cty.Path, c providers.Cost) {
	r.changes = append(r.changes, PathCost{Path: p, Cost: c})
	if c > r.cost {
		r.cost = c
	}
}

// blockCost is the cost of a nested block's change: the highest cost of the
// attributes that changed, when the blocks can be compared element by
// element; adding or removing blocks costs the block's own cost.
func blockCost(nb *providers.NestedBlock, before, after cty.Value) providers.Cost {
	if before.IsNull() || after.IsNull() || !before.IsWhollyKnown() || !after.IsWhollyKnown() {
		return nb.Cost
	}
	switch nb.Nesting {
	case providers.NestingSingle:
		return objectCost(nb.Block, before, after)
	default:
		if before.LengthInt() != after.LengthInt() {
			return nb.Cost
		}
		cost := providers.CostNone
		for it := after.ElementIterator(); it.Next(); {
			k, av := it.Element()
			if nb.Nesting == providers.NestingMap && !before.HasIndex(k).True() {
				return nb.Cost
			}
			cost = maxCost(cost, objectCost(nb.Block, before.Index(k), av))
		}
		return cost
	}
}

func objectCost(b *providers.Block, before, after cty.Value) providers.Cost {
	cost := providers.CostNone
	for name, a := range b.Attributes {
		if !valuesEqual(before.GetAttr(name), after.GetAttr(name)) {
			cost = maxCost(cost, a.Cost)
		}
	}
	for name, nb := range b.Blocks {
		if !valuesEqual(before.GetAttr(name), after.GetAttr(name)) {
			cost = maxCost(cost, blockCost(nb, before.GetAttr(name), after.GetAttr(name)))
		}
	}
	return cost
}

func maxCost(a, b providers.Cost) providers.Cost {
	if a > b {
		return a
	}
	return b
}

// valuesEqual compares two unmarked values; unknown is never equal to
// anything. It walks the values directly instead of using cty's
// RawEquals/Equals, which compare whole object types at every level and
// dominated a no-change plan of a large lab.
func valuesEqual(a, b cty.Value) bool {
	if a == cty.NilVal || b == cty.NilVal {
		return a == b
	}
	if !a.IsKnown() || !b.IsKnown() {
		return false
	}
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull()
	}
	at, bt := a.Type(), b.Type()
	switch {
	case at == cty.String:
		return bt == cty.String && a.AsString() == b.AsString()
	case at == cty.Bool:
		return bt == cty.Bool && a.True() == b.True()
	case at == cty.Number:
		return bt == cty.Number && a.AsBigFloat().Cmp(b.AsBigFloat()) == 0
	case at.IsObjectType():
		if !bt.IsObjectType() || len(at.AttributeTypes()) != len(bt.AttributeTypes()) {
			return false
		}
		for name := range at.AttributeTypes() {
			if !bt.HasAttribute(name) || !valuesEqual(a.GetAttr(name), b.GetAttr(name)) {
				return false
			}
		}
		return true
	case at.IsListType() || at.IsTupleType() || at.IsSetType():
		if !(bt.IsListType() || bt.IsTupleType() || bt.IsSetType()) || a.LengthInt() != b.LengthInt() {
			return false
		}
		ia, ib := a.ElementIterator(), b.ElementIterator()
		for ia.Next() && ib.Next() {
			_, ea := ia.Element()
			_, eb := ib.Element()
			if !valuesEqual(ea, eb) {
				return false
			}
		}
		return true
	case at.IsMapType():
		if !bt.IsMapType() || a.LengthInt() != b.LengthInt() {
			return false
		}
		for it := a.ElementIterator(); it.Next(); {
			k, ea := it.Element()
			if !b.HasIndex(k).True() || !valuesEqual(ea, b.Index(k)) {
				return false
			}
		}
		return true
	}
	return a.RawEquals(b)
}
