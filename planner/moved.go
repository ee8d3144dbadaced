package planner

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

// Move is an object that a moved block gives a new address: apply
// relabels its record, and nothing on the host changes (host names derive
// from the object's ID, never from its address).
type Move struct {
	From, To addr.Instance
}

// applyMoves follows the moved blocks from every recorded address and
// gives the priors their new addresses. The values of the other objects
// that named a moved address (a link's endpoint node, a firewall chain's
// target) and their recorded dependencies name the new one, so a move
// alone changes nothing.
func (p *Planner) applyMoves(priors map[addr.Instance]*prior) ([]Move, hcl.Diagnostics) {
	if p.Lab == nil {
		return nil, nil
	}
	var moves []Move
	var diags hcl.Diagnostics
	blocks := map[addr.Instance]*config.Moved{}
	dest := map[addr.Instance]addr.Instance{}
	for _, a := range sortedPriorAddrs(priors) {
		to, m, ok := p.Lab.MoveTarget(a)
		if !ok || to == a {
			continue
		}
		if m == nil {
			// An implicit move (count added or removed): only when the
			// destination is free, as in Terraform.
			if _, taken := priors[to]; taken {
				continue
			}
			if _, dup := dest[to]; dup {
				continue
			}
			m = &config.Moved{}
			if r := p.Lab.ResourceAt(to.Resource); r != nil {
				m.DeclRange = r.DeclRange
			}
			m.ToRange = m.DeclRange
		}
		if other, dup := dest[to]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Ambiguous move statements",
				Detail:  fmt.Sprintf("Both %s and %s would move to %s; one address holds one object.", other, a, to),
				Subject: m.DeclRange.Ptr()})
			continue
		}
		if pr := priors[a]; pr.schema != nil && pr.schema.Singleton != "" && to.Name != a.Name {
			// Its host object is named after the resource: a new name
			// is a new object, which the move would leave behind.
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot move to another name",
				Detail: fmt.Sprintf("%s A moved block may change its key (%s to %s[\"k\"]) but not its name (%s to %s). Drop the moved block: the plan then replaces it.",
					pr.schema.Singleton, a.Resource, a.Resource, a.Resource, to.Resource),
				Subject: m.ToRange.Ptr()})
			continue
		}
		dest[to] = a
		blocks[a] = m
		moves = append(moves, Move{From: a, To: to})
	}
	moving := map[addr.Instance]bool{}
	for _, mv := range moves {
		moving[mv.From] = true
	}
	for _, mv := range moves {
		if _, taken := priors[mv.To]; taken && !moving[mv.To] {
			m := blocks[mv.From]
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Move destination already exists",
				Detail: fmt.Sprintf("This moved block moves %s to %s, but the state already has an object at %s. Remove one of them from the state (labform state rm) or drop the moved block.",
					mv.From, mv.To, mv.To),
				Subject: m.ToRange.Ptr()})
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	names := map[string]string{}
	moved := map[addr.Instance]*prior{}
	for _, mv := range moves {
		pr := priors[mv.From]
		rec := *pr.rec
		rec.Addr = mv.To.String()
		pr.rec = &rec
		moved[mv.To] = pr
		delete(priors, mv.From)
		names[mv.From.String()] = mv.To.String()
		p.setObjectID(rec.Addr, pr.id)
	}
	for a, pr := range moved {
		priors[a] = pr
	}
	for _, pr := range priors {
		pr.value = renameAddrs(pr.value, names)
		pr.current = renameAddrs(pr.current, names)
		if pr.rec != nil && len(pr.rec.Deps) > 0 {
			rec := *pr.rec
			rec.Deps = append([]string(nil), rec.Deps...)
			for i, d := range rec.Deps {
				if n, ok := names[d]; ok {
					rec.Deps[i] = n
				}
			}
			pr.rec = &rec
		}
	}
	return moves, nil
}

// renameCurrent renames the moved addresses in what refresh read.
func renameCurrent(priors map[addr.Instance]*prior, moves []Move) {
	names := moveNames(moves)
	if len(names) == 0 {
		return
	}
	for _, pr := range priors {
		pr.current = renameAddrs(pr.current, names)
	}
}

func moveNames(moves []Move) map[string]string {
	names := make(map[string]string, len(moves))
	for _, mv := range moves {
		names[mv.From.String()] = mv.To.String()
	}
	return names
}

// renameAddrs replaces every string of v that is a moved address by the
// new one.
func renameAddrs(v cty.Value, names map[string]string) cty.Value {
	if v == cty.NilVal || len(names) == 0 {
		return v
	}
	out, _ := cty.Transform(v, func(_ cty.Path, x cty.Value) (cty.Value, error) {
		if x.Type() == cty.String && x.IsKnown() && !x.IsNull() {
			plain, marks := x.Unmark()
			if n, ok := names[plain.AsString()]; ok {
				return cty.StringVal(n).WithMarks(marks), nil
			}
		}
		return x, nil
	})
	return out
}

// checkMovedAway refuses a move whose source instance is still in the
// configuration (a count that still has that index).
func (p *Planner) checkMovedAway(moves []Move, desired *config.Desired) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, mv := range moves {
		if inst, ok := desired.Instances[mv.From]; ok {
			_, m, _ := p.Lab.MoveTarget(mv.From)
			if m == nil {
				continue
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Moved object still exists",
				Detail:  fmt.Sprintf("This moved block moves %s to %s, but the configuration still has %s (declared at %s).", mv.From, mv.To, mv.From, inst.Resource.DeclRange),
				Subject: m.FromRange.Ptr()})
		}
	}
	return diags
}

// markMoves tells each change of a moved object where it came from.
func markMoves(cs []*Change, moves []Move) {
	from := map[addr.Instance]addr.Instance{}
	for _, mv := range moves {
		from[mv.To] = mv.From
	}
	for _, c := range cs {
		if f, ok := from[c.Addr]; ok && !c.Deposed {
			f := f
			c.MovedFrom = &f
		}
	}
}

// forgetRemoved turns the deletes of objects that a removed block with
// destroy = false covers into forgets: the record goes, the object stays.
func (p *Planner) forgetRemoved(cs []*Change) {
	if p.Lab == nil {
		return
	}
	for _, c := range cs {
		if c.Action != Delete || c.Deposed {
			continue
		}
		if r := p.Lab.RemovedFor(c.Addr); r != nil && !r.Destroy {
			c.Action = Forget
			c.Reason = "removed block with destroy = false: the object keeps running"
		}
	}
}

// applyMovesToState relabels the moved records in one transaction, before
// any other action of the apply; the records that name a moved address
// (a link's endpoints, a chain's target, dependencies) name the new one.
func (p *Planner) applyMovesToState(moves []Move) hcl.Diagnostics {
	if len(moves) == 0 {
		return nil
	}
	pairs := make([]state.Rename, len(moves))
	for i, mv := range moves {
		pairs[i] = state.Rename{From: mv.From.String(), To: mv.To.String()}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].From < pairs[j].From })
	err := p.Store.Rename(pairs, RenameReferences(p.Registry, moveNames(moves)))
	if err != nil {
		return diagErr("Cannot record the moves in state", err)
	}
	return nil
}

// RenameReferences is the rewrite for state.Store.Rename: it renames the
// moved addresses (old to new) in a record's value and dependencies.
func RenameReferences(reg *providers.Registry, names map[string]string) func(*state.Record) (bool, error) {
	return func(rec *state.Record) (bool, error) { return renameRecord(reg, rec, names) }
}

func renameRecord(reg *providers.Registry, rec *state.Record, names map[string]string) (bool, error) {
	changed := false
	for i, d := range rec.Deps {
		if n, ok := names[d]; ok {
			rec.Deps[i], changed = n, true
		}
	}
	schema, err := reg.Schema(rec.Provider, rec.Type)
	if err != nil {
		return false, err
	}
	v, err := decodeValue(schema, rec.Value)
	if err != nil {
		return false, err
	}
	if nv := renameAddrs(v, names); !nv.RawEquals(v) {
		b, err := encodeValue(schema, nv)
		if err != nil {
			return false, err
		}
		rec.Value, changed = b, true
	}
	return changed, nil
}
