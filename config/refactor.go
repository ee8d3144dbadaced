package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config/addr"
	"github.com/zclconf/go-cty/cty"
)

// Moved is a moved block: the objects recorded at From now belong to To.
// Either end is a whole resource (every instance, keys kept) or one
// instance; a whole resource facing an instance stands for its instance
// without a key (container.r1 to container.router["r1"]).
type Moved struct {
	From, To  addr.Target
	DeclRange hcl.Range
	FromRange hcl.Range
	ToRange   hcl.Range
}

// Removed is a removed block: the objects recorded at From leave the
// configuration; with destroy = false they keep running and only leave
// the state.
type Removed struct {
	From      addr.Target
	Destroy   bool
	DeclRange hcl.Range
	FromRange hcl.Range
}

var movedSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "from", Required: true}, {Name: "to", Required: true}}}

var removedSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "from", Required: true}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "lifecycle"}},
}

var removedLifecycleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "destroy", Required: true}}}

// addrOf reads a from or to argument: a resource or instance address
// written as a reference.
func addrOf(a *hcl.Attribute) (addr.Target, hcl.Diagnostics) { return addrOrModule(a, noModules) }

// Which module addresses addrOrModule takes besides resources.
const (
	noModules   = iota
	moduleCalls // module.pod: a removed block's from
	anyModule   // module.pod, module.pod[1]: a moved block's ends
)

// addrOrModule is addrOf that also takes module addresses, as modules
// says.
func addrOrModule(a *hcl.Attribute, modules int) (addr.Target, hcl.Diagnostics) {
	bad := func(detail string) (addr.Target, hcl.Diagnostics) {
		return addr.Target{}, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid address",
			Detail: detail, Subject: a.Expr.Range().Ptr()}}
	}
	tr, d := hcl.AbsTraversalForExpr(a.Expr)
	if d.HasErrors() {
		return bad(fmt.Sprintf("%s takes a resource's address written bare, like container.r1 or container.router[\"r1\"].", a.Name))
	}
	t, err := addr.ParseTarget(traversalString(tr))
	if err != nil {
		return bad(err.Error())
	}
	if t.ModuleOnly && modules == anyModule {
		return t, nil
	}
	if t.ModuleOnly && modules == moduleCalls {
		if !t.Whole {
			return bad(fmt.Sprintf("%s takes a module call without a key (module.pod): a removed block removes every instance of a call that left the configuration.", a.Name))
		}
		return t, nil
	}
	if t.ModuleOnly {
		return bad(fmt.Sprintf("%s takes a resource's address, TYPE.NAME or TYPE.NAME[KEY], with its module path in front for one in a module (module.pod[0].container.leaf); a whole module is not an address here.", a.Name))
	}
	if !contains(ResourceTypes, t.Type) {
		return bad(fmt.Sprintf("%q is not a resource type; resource types are %s.%s", t.Type, orList(ResourceTypes), didYouMean(t.Type, ResourceTypes)))
	}
	return t, nil
}

// traversalString writes an absolute traversal back as an address.
func traversalString(tr hcl.Traversal) string {
	s := tr.RootName()
	for _, step := range tr[1:] {
		switch st := step.(type) {
		case hcl.TraverseAttr:
			s += "." + st.Name
		case hcl.TraverseIndex:
			if st.Key.Type().FriendlyName() == "string" {
				s += fmt.Sprintf("[%q]", st.Key.AsString())
			} else {
				s += "[" + st.Key.AsBigFloat().Text('f', -1) + "]"
			}
		default:
			s += "[?]"
		}
	}
	return s
}

func (l *Lab) decodeMoved(b *hcl.Block) hcl.Diagnostics {
	content, diags := b.Body.Content(movedSchema)
	if diags.HasErrors() {
		return diags
	}
	from, d := addrOrModule(content.Attributes["from"], anyModule)
	diags = append(diags, d...)
	to, d2 := addrOrModule(content.Attributes["to"], anyModule)
	diags = append(diags, d2...)
	if diags.HasErrors() {
		return diags
	}
	m := &Moved{From: from, To: to, DeclRange: b.DefRange,
		FromRange: content.Attributes["from"].Expr.Range(), ToRange: content.Attributes["to"].Expr.Range()}
	switch {
	case from.ModuleOnly != to.ModuleOnly:
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Module and resource mismatch",
			Detail:  "A moved block moves a resource to a resource (with module paths in front, module.pod[0].container.leaf) or a module to a module (module.a to module.b, module.a to module.a[0]), not one to the other.",
			Subject: m.ToRange.Ptr()})
	case from.ModuleOnly && from.Module == to.Module:
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Redundant move statement",
			Detail: "This moved block moves an address to itself.", Subject: b.DefRange.Ptr()})
	case from.ModuleOnly:
		// module.a to module.b moves every instance, keys kept; with a
		// key on either end, the one instance path (module.a to
		// module.a[0]: the call gained count).
		if !from.Whole || !to.Whole {
			m.From.Whole, m.To.Whole = false, false
		}
	case from.Type != to.Type:
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Resource type mismatch",
			Detail:  fmt.Sprintf("A moved block keeps the object: a %s cannot become a %s. Only the name and key may change.", from.Type, to.Type),
			Subject: m.ToRange.Ptr()})
	case from.Whole && to.Whole && from.Resource == to.Resource, !from.Whole && !to.Whole && from.Instance == to.Instance:
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Redundant move statement",
			Detail: "This moved block moves an address to itself.", Subject: b.DefRange.Ptr()})
	case from.Resource == to.Resource && (from.Whole != to.Whole):
		// container.a to container.a["x"]: the resource without a key
		// stands for its only instance (it gained or lost for_each).
		m.From.Whole, m.To.Whole = false, false
	}
	l.Moved = append(l.Moved, m)
	return diags
}

func (l *Lab) decodeRemoved(b *hcl.Block) hcl.Diagnostics {
	content, diags := b.Body.Content(removedSchema)
	if diags.HasErrors() {
		return diags
	}
	from, d := addrOrModule(content.Attributes["from"], moduleCalls)
	if diags = append(diags, d...); diags.HasErrors() {
		return diags
	}
	r := &Removed{From: from, Destroy: true, DeclRange: b.DefRange, FromRange: content.Attributes["from"].Expr.Range()}
	for i, lb := range content.Blocks {
		if i > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate lifecycle block",
				Detail: "A removed block has at most one lifecycle block.", Subject: lb.DefRange.Ptr()})
			continue
		}
		lc, d := lb.Body.Content(removedLifecycleSchema)
		diags = append(diags, d...)
		if a, ok := lc.Attributes["destroy"]; ok {
			diags = append(diags, decodeLiteral(a, cty.Bool, func(v cty.Value) { r.Destroy = v.True() })...)
		}
	}
	l.Removed = append(l.Removed, r)
	return diags
}

// checkRefactor checks the moved and removed blocks against each other
// and against the resources declared: a from that is still declared, two
// moves from one address, moves in a cycle, a removed resource that is
// moved.
func (l *Lab) checkRefactor() hcl.Diagnostics {
	var diags hcl.Diagnostics
	declared := func(t addr.Target) (*Resource, bool) {
		r, ok := l.Resources[t.Resource]
		return r, ok && (t.Whole || (r.Count == nil && r.ForEach == nil && t.Key.Kind == addr.NoKey))
	}
	for _, m := range l.Moved {
		if mc := l.moduleCallAt(m.From); mc != nil && m.From.Whole {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Moved object still exists",
				Detail:  fmt.Sprintf("This moved block moves %s away, but it is still declared at %s. Remove or rename that block.", m.From, mc.DeclRange),
				Subject: m.FromRange.Ptr()})
		}
		if r, ok := declared(m.From); ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Moved object still exists",
				Detail:  fmt.Sprintf("This moved block moves %s away, but %s is still declared at %s. Remove or rename that block.", m.From, r.Addr, r.DeclRange),
				Subject: m.FromRange.Ptr()})
		}
	}
	for i, a := range l.Moved {
		for _, b := range l.Moved[:i] {
			if overlaps(a.From, b.From) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Ambiguous move statements",
					Detail:  fmt.Sprintf("Both this block and the one at %s move %s; an object can move to one place only.", b.DeclRange, a.From),
					Subject: a.FromRange.Ptr()})
			}
			if overlaps(a.To, b.To) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Ambiguous move statements",
					Detail:  fmt.Sprintf("Both this block and the one at %s move an object to %s; one address holds one object.", b.DeclRange, a.To),
					Subject: a.ToRange.Ptr()})
			}
		}
	}
	// A chain a -> b -> c is followed; a -> b -> a is a cycle, reported
	// once.
cycles:
	for _, m := range l.Moved {
		seen := map[*Moved]bool{m: true}
		for cur := m; ; {
			next := l.movedFrom(cur.To)
			if next == nil {
				break
			}
			if seen[next] {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cyclic dependency in move statements",
					Detail: fmt.Sprintf("The moved blocks that start at %s lead back to it.", m.From), Subject: m.DeclRange.Ptr()})
				break cycles
			}
			seen[next] = true
			cur = next
		}
	}
	for i, r := range l.Removed {
		if mc := l.moduleCallAt(r.From); mc != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Removed module still exists",
				Detail:  fmt.Sprintf("This removed block says %s left the configuration, but it is declared at %s. Remove that block, or this one.", r.From, mc.DeclRange),
				Subject: r.FromRange.Ptr()})
		}
		if res, ok := declared(r.From); ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Removed resource still exists",
				Detail:  fmt.Sprintf("This removed block says %s left the configuration, but it is declared at %s. Remove that block, or this one.", r.From, res.DeclRange),
				Subject: r.FromRange.Ptr()})
		}
		for _, o := range l.Removed[:i] {
			if overlaps(r.From, o.From) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate removed block",
					Detail: fmt.Sprintf("%s is also removed at %s.", r.From, o.DeclRange), Subject: r.FromRange.Ptr()})
			}
		}
		for _, m := range l.Moved {
			if overlaps(r.From, m.From) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Moved and removed",
					Detail: fmt.Sprintf("%s is moved at %s; it cannot also be removed.", r.From, m.DeclRange), Subject: r.FromRange.Ptr()})
			}
		}
	}
	return diags
}

// moduleCallAt is the module call a module target names, when it is
// declared.
func (l *Lab) moduleCallAt(t addr.Target) *ModuleCall {
	if !t.ModuleOnly {
		return nil
	}
	steps, err := addr.ParseModule(t.Module)
	if err != nil {
		return nil
	}
	cur := l
	var mc *ModuleCall
	for _, s := range steps {
		if cur == nil {
			return nil
		}
		if mc = cur.Modules[s.Name]; mc == nil {
			return nil
		}
		cur = mc.Child
	}
	return mc
}

// movedFrom is the moved block whose from covers t, if any.
func (l *Lab) movedFrom(t addr.Target) *Moved {
	for _, m := range l.Moved {
		if m.From.Whole == t.Whole && overlaps(m.From, t) {
			return m
		}
	}
	return nil
}

// overlaps reports whether two addresses can name the same instance.
func overlaps(a, b addr.Target) bool {
	if a.Resource != b.Resource {
		return false
	}
	return a.Whole || b.Whole || a.Key == b.Key
}

// MoveTarget follows the moved blocks from the instance a: where an
// object recorded at a now belongs, and whether any block moved it. Chains
// are followed to their end. Without a block, an instance without a key
// whose resource now has count moves to index 0, and index 0 of a
// resource that lost its count moves to the instance without a key, as in
// Terraform.
func (l *Lab) MoveTarget(a addr.Instance) (addr.Instance, *Moved, bool) {
	to, m, ok := l.moveTarget(a)
	if ok {
		return to, m, ok
	}
	to = a
	if m, ok := l.implicitModuleMove(a.Module); ok {
		to.Module = m
	}
	if r := l.ResourceAt(a.Resource); r != nil {
		switch {
		case r.Count != nil && a.Key.Kind == addr.NoKey:
			to.Key = addr.Int(0)
		case r.Count == nil && r.ForEach == nil && a.Key.Kind == addr.IntKey && a.Key.Int == 0:
			to.Key = addr.Key{}
		}
	}
	return to, nil, to != a
}

// implicitModuleMove is the module path that an object recorded in the
// module instance path belongs to now that a call on the way gained or
// lost count: module.pod becomes module.pod[0] and back, as in Terraform.
func (l *Lab) implicitModuleMove(path string) (string, bool) {
	if path == "" {
		return path, false
	}
	steps, err := addr.ParseModule(path)
	if err != nil {
		return path, false
	}
	cur, changed := l, false
	for i, s := range steps {
		mc := cur.Modules[s.Name]
		if mc == nil || mc.Child == nil {
			return path, false
		}
		switch {
		case mc.Count != nil && s.Key.Kind == addr.NoKey:
			steps[i].Key, changed = addr.Int(0), true
		case mc.Count == nil && mc.ForEach == nil && s.Key.Kind == addr.IntKey && s.Key.Int == 0:
			steps[i].Key, changed = addr.Key{}, true
		}
		cur = mc.Child
	}
	return addr.ModulePath(steps), changed
}

func (l *Lab) moveTarget(a addr.Instance) (addr.Instance, *Moved, bool) {
	var first *Moved
	cur := a
	for step := 0; step <= len(l.Moved); step++ {
		var next *Moved
		var nextMod string
		for _, m := range l.Moved {
			if m.From.ModuleOnly {
				if rest, ok := cutModule(cur.Module, m.From.Module, m.From.Whole); ok {
					next, nextMod = m, m.To.Module+rest
					break
				}
				continue
			}
			if m.From.Resource != cur.Resource {
				continue
			}
			switch {
			case m.From.Whole && m.To.Whole:
			case m.From.Whole && cur.Key.Kind == addr.NoKey:
			case !m.From.Whole && m.From.Key == cur.Key:
			default:
				continue
			}
			next = m
			break
		}
		if next == nil {
			break
		}
		if first == nil {
			first = next
		}
		switch {
		case next.From.ModuleOnly:
			cur.Module = nextMod
		case next.To.Whole && next.From.Whole:
			cur = next.To.Resource.Instance(cur.Key)
		case next.To.Whole:
			cur = next.To.Resource.Instance(addr.Key{})
		default:
			cur = next.To.Instance
		}
	}
	return cur, first, first != nil
}

// cutModule reports whether the module instance path m is within from
// (any key of from's last call when anyKey), and returns what follows
// from in m: module.a[1].module.b cut at module.a (any key) leaves
// [1].module.b.
func cutModule(m, from string, anyKey bool) (string, bool) {
	if !addr.WithinModule(m, from, anyKey) {
		return "", false
	}
	return m[len(from):], true
}

// RemovedFor is the removed block that covers a, if any.
func (l *Lab) RemovedFor(a addr.Instance) *Removed {
	for _, r := range l.Removed {
		if r.From.Matches(a) || (!r.From.Whole && r.From.Instance == a) {
			return r
		}
	}
	return nil
}

// Import is an import block: adopt the running object id at To.
type Import struct {
	To        addr.Instance
	ID        string
	DeclRange hcl.Range
	ToRange   hcl.Range
	IDRange   hcl.Range
}

var importSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "to", Required: true}, {Name: "id", Required: true}}}

func (l *Lab) decodeImport(b *hcl.Block) hcl.Diagnostics {
	content, diags := b.Body.Content(importSchema)
	if diags.HasErrors() {
		return diags
	}
	to, d := addrOf(content.Attributes["to"])
	if diags = append(diags, d...); diags.HasErrors() {
		return diags
	}
	im := &Import{To: to.Instance, DeclRange: b.DefRange, ToRange: content.Attributes["to"].Expr.Range(), IDRange: content.Attributes["id"].Expr.Range()}
	diags = append(diags, decodeLiteral(content.Attributes["id"], cty.String, func(v cty.Value) { im.ID = v.AsString() })...)
	if diags.HasErrors() {
		return diags
	}
	if im.ID == "" {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid import id",
			Detail: "id names the running object to adopt; the provider pages say what it looks like.", Subject: im.IDRange.Ptr()})
	}
	l.Imports = append(l.Imports, im)
	return diags
}

// checkImports checks that every import block leads to a declared
// resource, and that no two lead to one address.
func (l *Lab) checkImports() hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[addr.Instance]*Import{}
	for _, im := range l.Imports {
		r := l.ResourceAt(im.To.Resource)
		ok := r != nil
		switch {
		case !ok:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Import to an undeclared resource",
				Detail:  fmt.Sprintf("%s is not declared. Write its block first: import adopts an object into a resource of the configuration, which says what it should look like.", im.To.Resource),
				Subject: im.ToRange.Ptr()})
		case (r.Count != nil || r.ForEach != nil) && im.To.Key.Kind == addr.NoKey:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Import needs an instance key",
				Detail: fmt.Sprintf("%s has count or for_each: name one instance, such as %s[0] or %s[\"key\"].", r.Addr, r.Addr, r.Addr), Subject: im.ToRange.Ptr()})
		}
		if prev, dup := seen[im.To]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate import",
				Detail: fmt.Sprintf("%s is also imported at %s.", im.To, prev.DeclRange), Subject: im.ToRange.Ptr()})
		}
		seen[im.To] = im
	}
	return diags
}
