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

// valuesEqual compares two values; unknown is never equal to anything.
func valuesEqual(a, b cty.Value) bool {
	if a == cty.NilVal || b == cty.NilVal {
		return a == b
	}
	if !a.IsWhollyKnown() || !b.IsWhollyKnown() {
		return false
	}
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull()
	}
	return a.RawEquals(b) || a.Equals(b).True()
}
