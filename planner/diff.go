package planner

// This file decides what a change of an existing object costs: the one
// place to read for "why does this plan restart (or replace) my node?".
//
//   - Each attribute's cost is its schema's (providers.Attribute.Cost:
//     InPlace, Restart or Replace); diffInstance compares the object as
//     refresh found it with the desired value and takes the highest cost
//     of the attributes that differ (CostNone when none does).
//   - decide turns that cost into the action, unless something outranks
//     the attributes: -replace, a tainted object.
//   - needsRestart raises an in-place update (or a no-op) to a restart
//     when refresh found the object in a state only a restart repairs.
//
// Two replacements are decided before any diff, where the object's
// identity is settled (planner.go): a change of provider and an
// interrupted delete. create_before_destroy (applyCBD) changes how a
// replacement is carried out, not whether it happens.

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

// decide sets the change of an existing object from its diff: the
// planned value, what forces the change, the cost and the action.
// -replace and a taint force a replacement whatever the attributes say;
// otherwise a Replace cost replaces, CostNone is a no-op, and InPlace or
// Restart is an update at that cost.
func decide(c *Change, s *providers.Schema, desired cty.Value, res diffResult, forceReplace bool, tainted string) {
	c.After, c.ForcedBy, c.Cost = res.after, res.changes, res.cost
	switch {
	case forceReplace:
		c.Action, c.Cost, c.Reason = DeleteThenCreate, providers.Replace, "replacement requested with -replace"
		c.After = unknownComputed(s, desired)
	case tainted != "":
		c.Action, c.Cost, c.Reason, c.Tainted = DeleteThenCreate, providers.Replace, tainted, true
		c.After = unknownComputed(s, desired)
	case res.cost == providers.Replace:
		c.Action = DeleteThenCreate
	case res.cost == providers.CostNone:
		c.Action = NoOp
	default:
		c.Action = Update
	}
}

// needsRestart turns an in-place update or a no-op into a restart when
// refresh found the object in a state only a restart repairs (a VM whose
// QMP status is internal-error or shutdown), unless it is to be stopped
// anyway.
func needsRestart(c *Change, s *providers.Schema, reason string) {
	if c.Action != NoOp && c.Action != Update || c.Cost == providers.Restart {
		return
	}
	if s.Attributes["state"] != nil {
		if providers.StateOf(c.After) == providers.Stopped {
			return
		}
	}
	c.Action, c.Cost, c.Reason = Update, providers.Restart, reason
	m := c.After.AsValueMap()
	for name, a := range s.Attributes {
		if a.Computed && !a.Optional {
			m[name] = cty.UnknownVal(a.Type)
		}
	}
	c.After = cty.ObjectVal(m)
	for i := range c.ForcedBy {
		if len(c.ForcedBy[i].Path) == 1 && c.ForcedBy[i].Path[0] == (cty.GetAttrStep{Name: "state"}) {
			c.ForcedBy[i].Cost = providers.Restart
			return
		}
	}
}
