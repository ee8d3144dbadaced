package config

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/ctyobj"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/ctymarks"
)

// Desired is the evaluated lab: what every instance should look like.
type Desired struct {
	Lab       *Lab
	Vars      map[string]cty.Value
	Providers map[string]cty.Value // provider block values, by provider name
	Instances map[addr.Instance]*Instance
	// Order lists the instances sorted by address.
	Order []addr.Instance
	// refs holds each resource's value as expressions see it, for outputs;
	// lazy holds those of the resources evaluated here, made when first
	// needed.
	refs map[addr.Resource]cty.Value
	lazy map[addr.Resource]*lazyRef
	// partial names, while evalLevels runs, the attributes the lab's
	// expressions read of each resource they read only attributes of.
	partial map[addr.Resource]map[string]bool
	// plainCtx, while evalLevels runs, is the context of the blocks that
	// refer to nothing.
	plainCtx *hcl.EvalContext
	locals   map[string]cty.Value
	// mods holds each module call's value as expressions see it: its
	// instances' outputs (module.go).
	mods map[string]cty.Value
	// Module is the module instance this scope evaluates ("" for the lab);
	// a module instance's scope shares Instances with the lab's and
	// collects its own Order, which the lab's takes in.
	Module string
	// A module instance's scope knows its parent's, its call and the
	// count or each values of its key; a scope knows the instances of its
	// module calls, in key order.
	parent   *Desired
	call     *ModuleCall
	each     map[string]cty.Value
	children map[string][]*Desired
	// scopeMarks are what a module call depends on as a whole (its
	// depends_on, its for_each), for every instance in the module.
	scopeMarks cty.ValueMarks

	byResOnce sync.Once
	byRes     map[addr.Resource][]*Instance
}

// Instance is one resource instance's desired value.
type Instance struct {
	Addr     addr.Instance
	Resource *Resource
	// Value is an object of the schema's implied type, without marks.
	// Computed attributes the user did not set are unknown.
	Value cty.Value
	// SensitivePaths are the paths of Value that came from sensitive values.
	SensitivePaths []cty.Path
	// Deps are the instances this one refers to (through its expressions
	// or depends_on), sorted.
	Deps []addr.Instance
	// UnknownArgs is set when an argument written in the configuration is
	// not known until what it refers to is applied; apply evaluates the
	// instance again then (EvalInstance).
	UnknownArgs bool
	// scope is the module instance's evaluation that holds it, nil for
	// the lab's own resources.
	scope *Desired
}

// ArgsKnown reports whether every argument written in the configuration
// is known in v.
func (inst *Instance) ArgsKnown(v cty.Value) bool {
	c := inst.Resource.Content
	for name := range c.Dynamic {
		if !ctyobj.WhollyKnown(ctyobj.Attr(v, name)) {
			return false
		}
	}
	for name, blocks := range c.Blocks {
		for _, b := range blocks {
			if b.Content.HasDynamic {
				// One look at the whole list of name blocks covers them all.
				if !ctyobj.WhollyKnown(ctyobj.Attr(v, name)) {
					return false
				}
				break
			}
		}
	}
	return true
}

// depMark marks a value that was read from an instance.
type depMark struct{ a addr.Instance }

// Prior gives the last known value of an instance (from state), so that
// references to computed attributes of existing objects are known at plan
// time. It may be nil.
type Prior func(addr.Instance) (cty.Value, bool)

// Evaluate computes every instance's desired value. prior may be nil.
func Evaluate(l *Lab, in *Inputs, prior Prior) (*Desired, hcl.Diagnostics) {
	d := &Desired{
		Lab:       l,
		Providers: map[string]cty.Value{},
		Instances: make(map[addr.Instance]*Instance, len(l.Order)),
		lazy:      make(map[addr.Resource]*lazyRef, len(l.Order)),
		Order:     make([]addr.Instance, 0, len(l.Order)),
		refs:      map[addr.Resource]cty.Value{},
		locals:    map[string]cty.Value{},
		mods:      map[string]cty.Value{},
	}
	vars, diags := l.evalVariables(in)
	d.Vars = vars
	if diags.HasErrors() {
		return d, diags
	}
	order, od := l.evalOrder()
	if diags = append(diags, od...); diags.HasErrors() {
		return d, diags
	}
	l.markManagement()
	base := d.baseVariables()
	if dd := l.checkLabInstances(base); dd.HasErrors() {
		return d, append(diags, dd...)
	}
	diags = append(diags, d.evalProviders(base)...)
	diags = append(diags, d.evalItems(order, base, prior)...)
	sort.Slice(d.Order, func(i, j int) bool { return d.Order[i].Less(d.Order[j]) })
	d.addManagementDeps()
	diags = append(diags, d.checkHostPaths()...)
	return d, diags
}

// evalItems evaluates a scope's locals, resources and module calls in
// order.
func (d *Desired) evalItems(order []item, base map[string]cty.Value, prior Prior) hcl.Diagnostics {
	if diags, ok := d.evalLevels(order, base, prior); ok {
		return diags
	}
	var diags hcl.Diagnostics
	for _, it := range order {
		switch {
		case it.local != "":
			v, dd := d.evalLocal(it.local, base)
			diags = append(diags, dd...)
			d.locals[it.local] = v
		case it.module != "":
			diags = append(diags, d.evalModule(d.Lab.Modules[it.module], base, prior)...)
		default:
			diags = append(diags, d.evalResource(d.Lab.Resources[it.res], base, prior)...)
		}
	}
	return diags
}

func (d *Desired) evalLocal(name string, base map[string]cty.Value) (cty.Value, hcl.Diagnostics) {
	lc := d.Lab.Locals[name]
	v, dd := lc.Expr.Value(d.contextFor(base, []hcl.Expression{lc.Expr}, nil))
	if dd.HasErrors() {
		v = cty.DynamicVal
	}
	return v, dd
}

// evalLevels evaluates the lab's locals and resources level by level, the
// items of a level on every core: level 0 refers to nothing, level n to
// items of levels below n. A lab written out block by block (thousands of
// resources of one instance each) has two or three levels, where
// evaluating in order would use one core. Each level's results are
// recorded after it, and the diagnostics come in order's order, as
// evalItems' loop gives them.
//
// It reports false, having done nothing, for a module's scope, a lab with
// module calls or with a count or for_each (whose instances are counted
// against MaxLabInstances as they are evaluated, in order), and for a lab
// of more resources than MaxLabInstances: evalItems' loop does those.
func (d *Desired) evalLevels(order []item, base map[string]cty.Value, prior Prior) (hcl.Diagnostics, bool) {
	if !d.inLevels(order) {
		return nil, false
	}
	l := d.Lab
	index := make(map[item]int, len(order))
	level := make([]int, len(order))
	var levels [][]int
	for i, it := range order {
		index[it] = i
		deps, ok := l.orderRefs[it]
		if !ok {
			deps = l.refsOf(it)
		}
		for _, dep := range deps {
			if j, ok := index[dep]; ok {
				level[i] = max(level[i], level[j]+1)
			}
		}
		if level[i] == len(levels) {
			levels = append(levels, nil)
		}
		levels[level[i]] = append(levels[level[i]], i)
	}
	d.partial = d.attributesRead(order)
	// The blocks that refer to nothing (most nodes) share one context.
	d.plainCtx = d.contextOf(base, nil, nil)
	defer func() { d.partial, d.plainCtx = nil, nil }()
	itemDiags := make([]hcl.Diagnostics, len(order))
	for _, members := range levels {
		locals := make([]cty.Value, len(members))
		evals := make([]*resourceEval, len(members))
		par.For(len(members), func(k int) {
			it := order[members[k]]
			if it.local != "" {
				locals[k], itemDiags[members[k]] = d.evalLocal(it.local, base)
				return
			}
			evals[k] = d.evalInstances(l.Resources[it.res], base, prior, false)
		})
		for k, i := range members {
			if it := order[i]; it.local != "" {
				d.locals[it.local] = locals[k]
				continue
			}
			itemDiags[i] = d.record(evals[k])
		}
	}
	var diags hcl.Diagnostics
	for _, dd := range itemDiags {
		diags = append(diags, dd...)
	}
	return diags, true
}

// inLevels reports whether evalLevels takes order.
func (d *Desired) inLevels(order []item) bool {
	l := d.Lab
	if !evalInLevels || d.parent != nil || d.Module != "" || l.orderRefs == nil {
		return false
	}
	resources := 0
	for _, it := range order {
		switch {
		case it.module != "":
			return false
		case it.local == "":
			r := l.Resources[it.res]
			if r.Count != nil || r.ForEach != nil {
				return false
			}
			resources++
		}
	}
	return len(d.Instances)+resources <= MaxLabInstances
}

// attributesRead names, for each resource that the expressions of order
// read only attributes of (vm.a.port[0], never vm.a alone, nor in
// depends_on), the attributes they read: evalLevels' expressions then see
// an object of those attributes, not of all. Outputs, checks and the
// rest, evaluated after, see whole objects.
func (d *Desired) attributesRead(order []item) map[addr.Resource]map[string]bool {
	if !partialRefs {
		return nil
	}
	l := d.Lab
	read := map[addr.Resource]map[string]bool{}
	whole := map[addr.Resource]bool{}
	note := func(tr hcl.Traversal) {
		ra, ok := l.resourceOf(tr)
		if !ok {
			return
		}
		if len(tr) >= 3 {
			if a, ok := tr[2].(hcl.TraverseAttr); ok {
				if read[ra] == nil {
					read[ra] = map[string]bool{}
				}
				read[ra][a.Name] = true
				return
			}
		}
		whole[ra] = true
	}
	for _, it := range order {
		if it.local != "" {
			for _, tr := range l.Locals[it.local].Expr.Variables() {
				note(tr)
			}
			continue
		}
		r := l.Resources[it.res]
		for _, tr := range r.variables() {
			note(tr)
		}
		for _, tr := range r.DependsOn {
			note(tr)
		}
	}
	for ra := range whole {
		delete(read, ra)
	}
	return read
}

// partialRefs is false only in the test that compares evalLevels with
// evalItems' loop.
var partialRefs = true

// evalInLevels is false only in the test that compares evalLevels with
// evalItems' loop.
var evalInLevels = true

// ManagementNodeTypes are the resource types whose instances get an
// interface on the lab's management network.
var ManagementNodeTypes = []string{"vm", "container"}

// markManagement makes a node's management addresses null when the lab
// has no management network (and leaves them unknown, for the planner to
// assign, when it has one).
func (l *Lab) markManagement() {
	var null map[string]bool
	if l.Root().Management() == nil {
		null = map[string]bool{"mgmt_address": true, "mgmt_address6": true}
	}
	for _, mc := range l.Modules {
		if mc.Child != nil {
			mc.Child.markManagement()
		}
	}
	for _, ra := range l.Order {
		if r := l.Resources[ra]; contains(ManagementNodeTypes, ra.Type) && r.Content != nil {
			r.Content.NullComputed = null
		}
	}
}

// addManagementDeps makes every node depend on the lab's management
// network, when it has one: the network is created before the nodes and
// destroyed after them.
func (d *Desired) addManagementDeps() {
	if d.Lab.Management() == nil {
		return
	}
	mg := addr.Resource{Type: providers.ManagementType, Name: providers.ManagementName}.Instance(addr.Key{})
	if d.Instances[mg] == nil {
		return
	}
	for _, a := range d.Order {
		if !contains(ManagementNodeTypes, a.Type) {
			continue
		}
		inst := d.Instances[a]
		i := sort.Search(len(inst.Deps), func(i int) bool { return !inst.Deps[i].Less(mg) })
		if i < len(inst.Deps) && inst.Deps[i] == mg {
			continue
		}
		inst.Deps = append(inst.Deps, addr.Instance{})
		copy(inst.Deps[i+1:], inst.Deps[i:])
		inst.Deps[i] = mg
	}
}

// checkLabInstances adds up the counts that are known before anything
// is evaluated (constants and variables), so that a lab far over
// MaxLabInstances is refused at once rather than after evaluating
// MaxLabInstances instances; evalResource checks the rest as it goes.
func (l *Lab) checkLabInstances(base map[string]cty.Value) hcl.Diagnostics {
	ctx := &hcl.EvalContext{Variables: base, Functions: l.Funcs()}
	total := 0
	for _, ra := range l.Order {
		r := l.Resources[ra]
		if r.Count == nil {
			continue
		}
		early := true
		for _, tr := range r.Count.Variables() {
			early = early && tr.RootName() == "var"
		}
		if !early {
			continue
		}
		n, dd := evalCount(r.Count, ctx)
		if dd.HasErrors() {
			continue // reported when the resource is evaluated
		}
		if total += n; total > MaxLabInstances {
			return hcl.Diagnostics{tooManyInstances(r, n, total)}
		}
	}
	return nil
}

func tooManyInstances(r *Resource, n, total int) *hcl.Diagnostic {
	rng := r.DeclRange
	if r.Count != nil {
		rng = r.Count.Range()
	} else if r.ForEach != nil {
		rng = r.ForEach.Range()
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many instances",
		Detail: fmt.Sprintf("With %s's %d instance(s) the lab would have at least %d; a lab has at most %d (labform's limit).",
			r.Addr, n, total, MaxLabInstances),
		Subject: rng.Ptr()}
}

// baseVariables are the variables every expression may use.
func (d *Desired) baseVariables() map[string]cty.Value {
	l := d.Lab
	cwd, _ := os.Getwd()
	return map[string]cty.Value{
		"var":  cty.ObjectVal(d.Vars),
		"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(l.Dir), "cwd": cty.StringVal(cwd)}),
		"lab":  l.Root().labValue(),
	}
}

func (l *Lab) labValue() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(l.Name),
		"dir":     cty.StringVal(l.Dir),
		"netns":   cty.StringVal("/var/run/netns/" + providers.LabNetns(l.Name)),
		"address": cty.StringVal("lab"),
	})
}

// contextFor builds the evaluation context for exprs: the base variables
// plus only the locals and resources they mention, so building it costs
// what the expressions use, not the size of the lab.
func (d *Desired) contextFor(base map[string]cty.Value, exprs []hcl.Expression, extra map[string]cty.Value) *hcl.EvalContext {
	var refs []hcl.Traversal
	for _, e := range exprs {
		refs = append(refs, e.Variables()...)
	}
	return d.contextOf(base, refs, extra)
}

// contextOf is contextFor given the references of the expressions.
func (d *Desired) contextOf(base map[string]cty.Value, refs []hcl.Traversal, extra map[string]cty.Value) *hcl.EvalContext {
	var locals, mods map[string]cty.Value
	byType := map[string]map[string]cty.Value{}
	for _, tr := range refs {
		root := tr.RootName()
		if len(tr) < 2 {
			continue
		}
		name := attrName(tr[1])
		if root == "local" {
			if v, ok := d.locals[name]; ok {
				if locals == nil {
					locals = map[string]cty.Value{}
				}
				locals[name] = v
			}
			continue
		}
		if root == "module" {
			if v, ok := d.mods[name]; ok {
				if mods == nil {
					mods = map[string]cty.Value{}
				}
				mods[name] = v
			}
			continue
		}
		ra := addr.Resource{Type: root, Name: name}
		v, ok := d.refs[ra]
		if lr := d.lazy[ra]; !ok && lr != nil {
			if only, part := d.partial[ra]; part {
				v = lr.partial(only)
			} else {
				v = lr.value()
			}
			ok = true
		}
		if ok {
			if byType[root] == nil {
				byType[root] = map[string]cty.Value{}
			}
			byType[root][name] = v
		}
	}
	own := func(vars map[string]cty.Value) map[string]cty.Value {
		if locals != nil {
			vars["local"] = cty.ObjectVal(locals)
		}
		if mods != nil {
			vars["module"] = cty.ObjectVal(mods)
		}
		for typ, m := range byType {
			vars[typ] = cty.ObjectVal(m)
		}
		return vars
	}
	if extra == nil && d.plainCtx != nil {
		// While evalLevels runs, the base variables (and the empty local)
		// come from the shared context, which a child's lookups reach:
		// the child holds only what this block refers to.
		child := d.plainCtx.NewChild()
		child.Variables = own(make(map[string]cty.Value, len(byType)+1))
		return child
	}
	vars := make(map[string]cty.Value, len(base)+4)
	for k, v := range base {
		vars[k] = v
	}
	vars["local"] = cty.EmptyObjectVal
	own(vars)
	for k, v := range extra {
		vars[k] = v
	}
	return &hcl.EvalContext{Variables: vars, Functions: d.Lab.Funcs()}
}

func (d *Desired) evalResource(r *Resource, base map[string]cty.Value, prior Prior) hcl.Diagnostics {
	return d.record(d.evalInstances(r, base, prior, true))
}

// resourceEval is a resource block's instances evaluated, before they are
// recorded.
type resourceEval struct {
	r       *Resource
	diags   hcl.Diagnostics
	results []result
	// recorded is false when an error came before the instances: the
	// resource then has no value for expressions to see.
	recorded bool
}

// evalInstances evaluates a resource block's instances without changing
// d, so that blocks that do not refer to each other evaluate at once.
// With checkLimit, a resource whose instances would take the lab over
// MaxLabInstances is refused before any is evaluated (evalLevels checks
// that no block can, beforehand).
func (d *Desired) evalInstances(r *Resource, base map[string]cty.Value, prior Prior, checkLimit bool) *resourceEval {
	ev := &resourceEval{r: r}
	// The context holds what depends_on names too, even when nothing
	// else in the block refers to it.
	refs := r.variables()
	refs = append(refs[:len(refs):len(refs)], r.DependsOn...)
	ctx := d.plainCtx
	if len(refs) > 0 || ctx == nil {
		ctx = d.contextOf(base, refs, nil)
	}
	// Dependencies from depends_on and from count/for_each apply to every
	// instance.
	common := []cty.Value{cty.True.WithMarks(d.scopeMarks)}
	for _, tr := range r.DependsOn {
		if d.Lab.isModuleCall(tr) {
			common = append(common, d.moduleDeps(attrName(tr[1])))
			continue
		}
		v, dd := tr.TraverseAbs(ctx)
		ev.diags = append(ev.diags, dd...)
		common = append(common, v)
	}

	type inst struct {
		key  addr.Key
		each map[string]cty.Value
	}
	var insts []inst
	switch {
	case r.Count != nil:
		n, dd := evalCount(r.Count, ctx)
		ev.diags = append(ev.diags, dd...)
		if dd.HasErrors() {
			return ev
		}
		for i := 0; i < n; i++ {
			insts = append(insts, inst{key: addr.Int(i), each: map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))})}})
		}
	case r.ForEach != nil:
		m, marks, dd := evalForEach(r.ForEach, ctx)
		ev.diags = append(ev.diags, dd...)
		if dd.HasErrors() {
			return ev
		}
		common = append(common, cty.True.WithMarks(marks))
		for _, k := range sortedAttrKeys(m) {
			insts = append(insts, inst{key: addr.Str(k), each: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": m[k]})}})
		}
	default:
		insts = []inst{{}}
	}
	if checkLimit && len(d.Instances)+len(insts) > MaxLabInstances {
		ev.diags = append(ev.diags, tooManyInstances(r, len(insts), len(d.Instances)+len(insts)))
		return ev
	}
	if len(insts) == 0 {
		// No instance (count = 0, for_each = {}): the body is still checked,
		// as Terraform does, once with count.index or each.key and
		// each.value unknown, so a mistake does not wait for the day the
		// count grows.
		ev.diags = append(ev.diags, d.checkEmptyBody(r, ctx)...)
	}

	// Instances of one block are independent: evaluate them on every core
	// (expressions, the context and cty values are immutable), then record
	// them in order.
	ev.recorded = true
	ev.results = make([]result, len(insts))
	par.For(len(insts), func(i int) {
		in := insts[i]
		ia := r.Addr.Instance(in.key)
		ia.Module = d.Module
		ictx := ctx
		if in.each != nil {
			ictx = ctx.NewChild()
			ictx.Variables = in.each
		}
		m := &marks{deps: map[addr.Instance]bool{}}
		v, dd := evalContent(r.Content, &r.Schema.Block, ictx, nil, m)
		if dd.HasErrors() {
			v = cty.UnknownVal(r.Schema.ImpliedType())
		}
		inst := &Instance{Addr: ia, Resource: r, Value: v, SensitivePaths: m.sensitive}
		if d.Module != "" {
			inst.scope = d
		}
		inst.UnknownArgs = !dd.HasErrors() && !inst.ArgsKnown(v)
		// A whole collection (depends_on = [vm.leaf], length(vm.leaf))
		// carries the marks of all its elements.
		for _, c := range common {
			m.take(nil, c)
		}
		delete(m.deps, ia)
		for dep := range m.deps {
			inst.Deps = append(inst.Deps, dep)
		}
		sort.Slice(inst.Deps, func(i, j int) bool { return inst.Deps[i].Less(inst.Deps[j]) })
		ev.results[i] = result{inst: inst, diags: dd}
		if prior != nil {
			ev.results[i].prior, ev.results[i].hasPrior = prior(ia)
		}
	})
	return ev
}

// record adds a resource's evaluated instances to d, and its value as
// expressions see it; it returns the resource's diagnostics.
func (d *Desired) record(ev *resourceEval) hcl.Diagnostics {
	diags := ev.diags
	if !ev.recorded {
		return diags
	}
	done := make([]*Instance, len(ev.results))
	results := ev.results
	for i, res := range ev.results {
		diags = append(diags, d.improveIndexDiags(res.diags)...)
		d.Instances[res.inst.Addr] = res.inst
		d.Order = append(d.Order, res.inst.Addr)
		done[i] = res.inst
	}
	if d.lazy == nil {
		d.lazy = map[addr.Resource]*lazyRef{}
	}
	d.lazy[ev.r.Addr] = &lazyRef{make_: func(only map[string]bool) cty.Value {
		refs := make([]cty.Value, len(done))
		par.For(len(done), func(i int) {
			var prior Prior
			if res := results[i]; res.hasPrior {
				prior = func(addr.Instance) (cty.Value, bool) { return res.prior, true }
			}
			refs[i] = d.refValue(done[i], done[i].Value, done[i].SensitivePaths, prior, only)
		})
		return collection(ev.r, done, refs)
	}}
	return diags
}

// checkEmptyBody evaluates the body of a resource that has no instance
// with count.index, or each.key and each.value, unknown, and returns the
// errors: an unknown value passes every check that needs a known one.
func (d *Desired) checkEmptyBody(r *Resource, ctx *hcl.EvalContext) hcl.Diagnostics {
	ictx := ctx.NewChild()
	if r.Count != nil {
		ictx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)})}
	} else {
		ictx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})}
	}
	_, dd := evalContent(r.Content, &r.Schema.Block, ictx, nil, &marks{deps: map[addr.Instance]bool{}})
	var errs hcl.Diagnostics
	for _, diag := range d.improveIndexDiags(dd) {
		if diag.Severity == hcl.DiagError {
			errs = append(errs, diag)
		}
	}
	return errs
}

// collection is a resource as expressions see it: one object, a tuple
// (count) or an object keyed like for_each, of its instances' values.
func collection(r *Resource, insts []*Instance, vals []cty.Value) cty.Value {
	switch {
	case r.ForEach != nil:
		byKey := make(map[string]cty.Value, len(insts))
		for i, inst := range insts {
			byKey[inst.Addr.Key.Str] = vals[i]
		}
		return cty.ObjectVal(byKey)
	case r.Count != nil:
		if len(vals) == 0 {
			return cty.EmptyTupleVal
		}
		return cty.TupleVal(vals)
	case len(vals) == 1:
		return vals[0]
	}
	return cty.DynamicVal
}

// currentCollection is collection with each instance's value replaced by
// current's answer where it has one (state after an apply).
func (d *Desired) currentCollection(ra addr.Resource, current func(addr.Instance) (cty.Value, bool)) cty.Value {
	d.byResOnce.Do(func() {
		d.byRes = map[addr.Resource][]*Instance{}
		for _, ia := range d.Order {
			if ia.Module == d.Module {
				d.byRes[ia.Resource.Local()] = append(d.byRes[ia.Resource.Local()], d.Instances[ia])
			}
		}
	})
	insts := d.byRes[ra]
	vals := make([]cty.Value, len(insts))
	for i, inst := range insts {
		v := inst.Value
		if cv, ok := current(inst.Addr); ok {
			v = cv
		}
		vals[i] = d.refValue(inst, v, inst.SensitivePaths, nil, nil)
	}
	return collection(d.Lab.Resources[ra], insts, vals)
}

// result is one instance's evaluation, before it is recorded.
type result struct {
	inst  *Instance
	diags hcl.Diagnostics
	// prior's answer for the instance, asked now: the value expressions
	// see is made later (lazyRef), when the planner may have changed what
	// prior reads.
	prior    cty.Value
	hasPrior bool
}

// lazyRef is a resource's value as expressions see it, made the first
// time an expression refers to it: in a large lab most resources (links,
// firewall chains) are referred to by nothing. evalLevels' expressions
// may see a part of it (partial).
type lazyRef struct {
	once, ponce sync.Once
	v, pv       cty.Value
	make_       func(only map[string]bool) cty.Value
}

func (lr *lazyRef) value() cty.Value {
	lr.once.Do(func() { lr.v = lr.make_(nil) })
	return lr.v
}

// partial is the value with only the attributes only names (the same
// names at every call).
func (lr *lazyRef) partial(only map[string]bool) cty.Value {
	lr.ponce.Do(func() { lr.pv = lr.make_(only) })
	return lr.pv
}

// refValue is an instance as other expressions see it: its attributes
// (computed ones from prior state, else unknown), port[n] endpoints and
// its address, marked with the instance so that users depend on it.
func (d *Desired) refValue(inst *Instance, v cty.Value, sensitive []cty.Path, prior Prior, only map[string]bool) cty.Value {
	// With only, the object has only those of its attributes (evalLevels:
	// what the lab's expressions read of it, one attribute each).
	want := func(name string) bool { return only == nil || only[name] }
	pa := inst.Resource.Schema.PortsAttr
	needed := func(name string) bool { return want(name) || (pa != "" && name == pa && want("port")) }
	size := len(inst.Resource.Schema.Attributes) + len(inst.Resource.Schema.Blocks) + 2
	if only != nil {
		size = len(only) + 1
	}
	attrs := make(map[string]cty.Value, size)
	types := inst.Resource.Schema.ImpliedType().AttributeTypes()
	known := v.IsKnown() && !v.IsNull()
	if known {
		types = v.Type().AttributeTypes()
	}
	take := func(name string) {
		ty, ok := types[name]
		switch {
		case !ok:
		case known:
			attrs[name] = ctyobj.Attr(v, name)
		default:
			attrs[name] = cty.UnknownVal(ty)
		}
	}
	if only == nil {
		for name := range types {
			take(name)
		}
	} else {
		// The few names read, rather than a look at each of the type's.
		for name := range only {
			take(name)
		}
		if pa != "" && want("port") && !only[pa] {
			take(pa)
		}
	}
	if prior != nil {
		if pv, ok := prior(inst.Addr); ok && pv.IsKnown() && !pv.IsNull() {
			for name, a := range inst.Resource.Schema.Attributes {
				if a.Computed && needed(name) && !attrs[name].IsKnown() && pv.Type().HasAttribute(name) {
					attrs[name] = pv.GetAttr(name)
				}
			}
		}
	}
	if pa != "" && want("port") {
		attrs["port"] = portsValue(inst.Addr.String(), attrs[pa])
		if !want(pa) {
			delete(attrs, pa)
		}
	}
	if want("address") {
		attrs["address"] = cty.StringVal(inst.Addr.String())
	}
	// Sensitive values stay sensitive when another expression reads them.
	for _, p := range sensitive {
		if len(p) > 0 {
			if ga, ok := p[0].(cty.GetAttrStep); ok && want(ga.Name) {
				if _, has := attrs[ga.Name]; has || only == nil {
					attrs[ga.Name] = attrs[ga.Name].Mark(Sensitive)
				}
			}
		}
	}
	return cty.ObjectVal(attrs).Mark(depMark{inst.Addr})
}

func portsValue(node string, n cty.Value) cty.Value {
	n, _ = n.Unmark()
	if !n.IsKnown() || n.IsNull() {
		return cty.DynamicVal
	}
	count, acc := n.AsBigFloat().Int64()
	if acc != 0 || count < 0 || count > 4096 {
		return cty.DynamicVal
	}
	if count == 0 {
		return cty.EmptyTupleVal
	}
	ports := make([]cty.Value, count)
	for i := range ports {
		ports[i] = providers.EndpointVal(node, i)
	}
	return cty.TupleVal(ports)
}

func evalCount(e hcl.Expression, ctx *hcl.EvalContext) (int, hcl.Diagnostics) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	v, _ = v.Unmark()
	bad := func(detail string) (int, hcl.Diagnostics) {
		return 0, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid count argument", Detail: detail, Subject: e.Range().Ptr()})
	}
	if !v.IsKnown() {
		return bad("count must be known before apply: use variables, locals or attributes the user sets, not computed attributes.")
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() {
		return bad("count is a whole number.")
	}
	i, acc := n.AsBigFloat().Int64()
	if acc != 0 || !n.AsBigFloat().IsInt() || i < 0 || i > MaxInstances {
		return bad(fmt.Sprintf("count is a whole number between 0 and %d (labform's limit of instances per resource), not %s.", MaxInstances, n.AsBigFloat().Text('g', 10)))
	}
	return int(i), diags
}

func evalForEach(e hcl.Expression, ctx *hcl.EvalContext) (map[string]cty.Value, cty.ValueMarks, hcl.Diagnostics) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	v, marks := v.Unmark()
	bad := func(detail string) (map[string]cty.Value, cty.ValueMarks, hcl.Diagnostics) {
		return nil, nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each argument", Detail: detail, Subject: e.Range().Ptr()})
	}
	if !v.IsWhollyKnown() {
		return bad("for_each must be known before apply.")
	}
	if v.IsNull() {
		return bad("for_each is a map or a set of strings, not null.")
	}
	ty := v.Type()
	if (ty.IsMapType() || ty.IsObjectType() || ty.IsSetType()) && v.LengthInt() > MaxInstances {
		return bad(fmt.Sprintf("for_each has %d elements; a resource has at most %d instances (labform's limit).", v.LengthInt(), MaxInstances))
	}
	out := map[string]cty.Value{}
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out[k.AsString()] = ev
		}
	case ty.IsSetType() && ty.ElementType() == cty.String:
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			ev, m := ev.Unmark()
			for mk := range m {
				marks[mk] = struct{}{}
			}
			out[ev.AsString()] = ev
		}
	default:
		return bad(fmt.Sprintf("for_each is a map or a set of strings (toset([...])), not %s.", ty.FriendlyName()))
	}
	return out, marks, diags
}

// marks collects what the marks of an instance's values said: the
// instances it read and the paths that hold sensitive values.
type marks struct {
	deps      map[addr.Instance]bool
	sensitive []cty.Path
}

func (m *marks) take(path cty.Path, v cty.Value) cty.Value {
	// One walk, as UnmarkDeepWithPaths makes, without its set of marks per
	// path: each path holds a mark once, so a sensitive path is added once.
	plain, _ := v.WrangleMarksDeep(func(mark any, p cty.Path) (ctymarks.WrangleAction, error) {
		switch mk := mark.(type) {
		case depMark:
			m.deps[mk.a] = true
		case sensitiveMark:
			m.sensitive = append(m.sensitive, append(append(cty.Path{}, path...), p...))
		}
		return ctymarks.WrangleDrop, nil
	})
	return plain
}

// evalContent evaluates a block body against its schema. The result has no
// marks: they are taken into m as each attribute is evaluated, and an
// expression that refers to nothing cannot carry any, so it is not walked.
func evalContent(c *Content, b *providers.Block, ctx *hcl.EvalContext, path cty.Path, m *marks) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := ctyobj.New(b.ImpliedType())
	for name, a := range b.Attributes {
		attr, set := c.Attrs[name]
		switch {
		case set:
			v, ok := constString(attr.Expr)
			var dd hcl.Diagnostics
			if !ok {
				v, dd = attr.Expr.Value(ctx)
			}
			diags = append(diags, dd...)
			if dd.HasErrors() {
				vals.Set(name, cty.UnknownVal(a.Type))
				continue
			}
			if a.Reference {
				v = referenceAddress(v)
			}
			if c.Dynamic[name] {
				v = m.take(append(append(cty.Path{}, path...), cty.GetAttrStep{Name: name}), v)
			}
			conv, err := fastConvert(v, a.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type",
					Detail:  fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, err),
					Subject: attr.Expr.Range().Ptr(), Expression: attr.Expr, EvalContext: ctx})
				conv = cty.UnknownVal(a.Type)
			} else if d := checkAllowed(name, a, conv, attr.Expr.Range()); d != nil {
				// The value is unknown from here on, so that a provider
				// never sees it (nor reports it a second time).
				diags = append(diags, d)
				conv = cty.UnknownVal(a.Type)
			}
			vals.Set(name, conv)
		case a.Required:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
				Detail: fmt.Sprintf("The argument %q is required, but no definition was found.", name), Subject: c.MissingRange.Ptr()})
			vals.Set(name, cty.UnknownVal(a.Type))
		case a.Computed && c.NullComputed[name]:
			vals.Set(name, cty.NullVal(a.Type))
		case a.Computed:
			vals.Set(name, cty.UnknownVal(a.Type))
		default:
			vals.Set(name, a.Default)
		}
	}
	for name, nb := range b.Blocks {
		blocks := c.Blocks[name]
		et := nb.Block.ImpliedType()
		bpath := append(append(cty.Path{}, path...), cty.GetAttrStep{Name: name})
		if hasDynamic(blocks) {
			v, dd := evalDynamic(name, nb, blocks, ctx, bpath, m)
			diags = append(diags, dd...)
			vals.Set(name, v)
			continue
		}
		switch nb.Nesting {
		case providers.NestingSingle:
			if len(blocks) == 0 {
				vals.Set(name, cty.NullVal(et))
				continue
			}
			v, dd := evalContent(blocks[0].Content, nb.Block, ctx, bpath, m)
			diags = append(diags, dd...)
			vals.Set(name, v)
		case providers.NestingList:
			if len(blocks) == 0 {
				vals.Set(name, cty.ListValEmpty(et))
				continue
			}
			elems := make([]cty.Value, len(blocks))
			for i, blk := range blocks {
				v, dd := evalContent(blk.Content, nb.Block, ctx, append(bpath, cty.IndexStep{Key: cty.NumberIntVal(int64(i))}), m)
				diags = append(diags, dd...)
				elems[i] = v
			}
			vals.Set(name, cty.ListVal(elems))
		case providers.NestingMap:
			if len(blocks) == 0 {
				vals.Set(name, cty.MapValEmpty(et))
				continue
			}
			elems := map[string]cty.Value{}
			for _, blk := range blocks {
				v, dd := evalContent(blk.Content, nb.Block, ctx, append(bpath, cty.IndexStep{Key: cty.StringVal(blk.Label)}), m)
				diags = append(diags, dd...)
				elems[blk.Label] = v
			}
			vals.Set(name, cty.MapVal(elems))
		}
	}
	return vals.Value(), diags
}

// checkAllowed checks a string (or each string of a list) against the
// schema's allowed values.
func checkAllowed(name string, a *providers.Attribute, v cty.Value, rng hcl.Range) *hcl.Diagnostic {
	if len(a.Allowed) == 0 || v.IsNull() || !v.IsKnown() {
		return nil
	}
	var given []cty.Value
	if v.Type() == cty.String {
		given = []cty.Value{v}
	} else if v.CanIterateElements() {
		given = v.AsValueSlice()
	}
	for _, g := range given {
		if g.IsNull() || !g.IsKnown() || g.Type() != cty.String {
			continue
		}
		s := g.AsString()
		if contains(a.Allowed, s) {
			continue
		}
		hint := didYouMean(s, a.Allowed)
		if hint == "" {
			// A value in another case is the likeliest slip: "UP" for "up".
			for _, x := range a.Allowed {
				if strings.EqualFold(x, s) {
					hint = fmt.Sprintf(" Did you mean %q?", x)
				}
			}
		}
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for " + name,
			Detail:  fmt.Sprintf("%q is not a value %s takes; it takes %s.%s", s, name, orList(a.Allowed), hint),
			Subject: rng.Ptr()}
	}
	return nil
}

// orList writes "a, b or c".
func orList(items []string) string {
	q := make([]string, len(items))
	for i, x := range items {
		q[i] = strconv.Quote(x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// fastConvert is convert.Convert with a shortcut for whole numbers written
// where a string is expected (dport = 22): cty formats numbers through
// big.Float's shortest-decimal search, which dominated evaluating a large
// lab.
func fastConvert(v cty.Value, ty cty.Type) (cty.Value, error) {
	if ty == cty.String && v.Type() == cty.Number && v.IsKnown() && !v.IsNull() {
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == 0 {
				return cty.StringVal(strconv.FormatInt(i, 10)), nil
			}
		}
	}
	// A tuple written where a list goes (["sleep", "infinity"], a link's
	// endpoints), its elements of the list's element type already: the
	// list of them, as the conversion makes it, without building the
	// conversion for each value.
	if ty.IsListType() && v.Type().IsTupleType() && v.IsKnown() && !v.IsMarked() && !v.IsNull() && flatType(ty.ElementType()) {
		elems, et := v.AsValueSlice(), ty.ElementType()
		same := len(elems) > 0
		for _, e := range elems {
			same = same && e.Type().Equals(et)
		}
		if same {
			return cty.ListVal(elems), nil
		}
	}
	return convert.Convert(v, ty)
}

// flatType is a primitive type, or an object type of primitive attributes
// none of which is optional.
func flatType(ty cty.Type) bool {
	if ty.IsPrimitiveType() {
		return true
	}
	if !ty.IsObjectType() || len(ty.OptionalAttributes()) > 0 {
		return false
	}
	for _, at := range ty.AttributeTypes() {
		if !at.IsPrimitiveType() {
			return false
		}
	}
	return true
}

// referenceAddress turns a resource (or lab) value into its address, so
// that target = container.host[0] stores "container.host[0]" and keeps the
// dependency mark.
func referenceAddress(v cty.Value) cty.Value {
	plain, marks := v.Unmark()
	if plain.IsKnown() && !plain.IsNull() && plain.Type().IsObjectType() && plain.Type().HasAttribute("address") {
		return plain.GetAttr("address").WithMarks(marks)
	}
	return v
}

// improveIndexDiags explains an index that HCL found missing in terms of
// the lab: a port beyond a node's ports, or an instance key or index that
// a counted or for_each resource does not have (which names the keys it
// has).
func (d *Desired) improveIndexDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, diag := range diags {
		if diag.Summary != "Invalid index" || diag.Subject == nil {
			continue
		}
		before := sourceBefore(d.Lab, *diag.Subject)
		if portRef.MatchString(before) {
			diag.Summary = "Port index out of range"
			diag.Detail = "This node has no such port. A node's ports are port[0] to port[n-1], where n is its adapters (vm) or ports (container). " + diag.Detail
			continue
		}
		m := resourceRef.FindStringSubmatch(before)
		if m == nil {
			continue
		}
		r, ok := d.Lab.Resources[addr.Resource{Type: m[1], Name: m[2]}]
		if !ok || (r.Count == nil && r.ForEach == nil) {
			continue
		}
		key, known := indexKey(d.Lab, diag)
		keys := d.instanceKeys(r.Addr)
		if r.ForEach != nil {
			quoted := make([]string, 0, len(keys))
			for i, k := range keys {
				if i == 20 {
					quoted = append(quoted, fmt.Sprintf("and %d more", len(keys)-20))
					break
				}
				quoted = append(quoted, strconv.Quote(k.Str))
			}
			has := "it has no instances"
			if len(keys) > 0 {
				has = "its keys are " + strings.Join(quoted, ", ")
			}
			diag.Summary = "No instance with this key"
			if known && key.Type() == cty.String {
				diag.Detail = fmt.Sprintf("%s has no instance with key %q; %s.", r.Addr, key.AsString(), has)
			} else {
				diag.Detail = fmt.Sprintf("%s has no instance with this key; %s. It is a for_each resource: its instances are picked by the for_each keys.", r.Addr, has)
			}
			continue
		}
		diag.Summary = "No instance with this index"
		count := fmt.Sprintf("its count is %d", len(keys))
		if len(keys) > 0 {
			count += fmt.Sprintf(" (indexes 0 to %d)", len(keys)-1)
		}
		if known && key.Type() == cty.Number {
			diag.Detail = fmt.Sprintf("%s has no instance with index %s; %s.", r.Addr, key.AsBigFloat().Text('f', -1), count)
		} else {
			diag.Detail = fmt.Sprintf("%s has no instance with this index; %s.", r.Addr, count)
		}
	}
	return diags
}

var (
	portRef     = regexp.MustCompile(`\.\s*port\s*$`)
	resourceRef = regexp.MustCompile(`(?:^|[^\w.-])(vm|container|link|firewall_chain)\s*\.\s*([A-Za-z_][\w-]*)\s*$`)
)

// instanceKeys lists the keys of a resource's instances evaluated so far
// (a resource is evaluated before whatever refers to it).
func (d *Desired) instanceKeys(ra addr.Resource) []addr.Key {
	var keys []addr.Key
	for _, ia := range d.Order {
		if ia.Resource == ra {
			keys = append(keys, ia.Key)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Kind == addr.IntKey {
			return keys[i].Int < keys[j].Int
		}
		return keys[i].Str < keys[j].Str
	})
	return keys
}

// indexKey is the key an index diagnostic is about: the literal between
// the brackets, or the value of the index expression.
func indexKey(l *Lab, diag *hcl.Diagnostic) (cty.Value, bool) {
	if ie, ok := diag.Expression.(*hclsyntax.IndexExpr); ok && diag.EvalContext != nil {
		if v, dd := ie.Key.Value(diag.EvalContext); !dd.HasErrors() && v.IsWhollyKnown() && !v.IsNull() {
			v, _ = v.Unmark()
			return v, true
		}
	}
	f := l.Parser.Files()[diag.Subject.Filename]
	r := *diag.Subject
	if f == nil || r.Start.Byte < 0 || r.End.Byte > len(f.Bytes) || r.End.Byte-r.Start.Byte < 2 {
		return cty.NilVal, false
	}
	text := strings.TrimSpace(string(f.Bytes[r.Start.Byte:r.End.Byte]))
	text = strings.TrimSuffix(strings.TrimPrefix(text, "["), "]")
	e, dd := hclsyntax.ParseExpression([]byte(text), "", hcl.InitialPos)
	if dd.HasErrors() {
		return cty.NilVal, false
	}
	v, dd := e.Value(nil)
	if dd.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

// sourceBefore is the text of the line before r, where the value indexed
// at r is written.
func sourceBefore(l *Lab, r hcl.Range) string {
	f := l.Parser.Files()[r.Filename]
	if f == nil || r.Start.Byte > len(f.Bytes) || r.Start.Byte < 0 {
		return ""
	}
	start := r.Start.Byte - 256
	if start < 0 {
		start = 0
	}
	text := string(f.Bytes[start:r.Start.Byte])
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	}
	return text
}

func stripMarks(v cty.Value) cty.Value {
	v, _ = v.UnmarkDeep()
	return v
}

// Outputs evaluates the outputs. value gives each instance's value as it
// now is (from state after an apply), or nil to use the desired values.
func (d *Desired) Outputs(value func(addr.Instance) (cty.Value, bool)) (map[string]OutputValue, hcl.Diagnostics) {
	view := d
	if value != nil {
		// Only the resources and modules the outputs mention: a lab of
		// thousands of instances with a few outputs pays for those.
		var exprs []hcl.Expression
		for _, n := range sortedAttrKeys(d.Lab.Outputs) {
			exprs = append(exprs, d.Lab.Outputs[n].Expr)
		}
		view = d.currentView(exprs, value)
	}
	base := view.baseVariables()
	out := map[string]OutputValue{}
	var diags hcl.Diagnostics
	for name, o := range d.Lab.Outputs {
		v, dd := o.Expr.Value(view.contextFor(base, []hcl.Expression{o.Expr}, nil))
		diags = append(diags, dd...)
		if dd.HasErrors() {
			continue
		}
		_, pvm := v.UnmarkDeepWithPaths()
		sensitive := o.Sensitive
		for _, pm := range pvm {
			if _, ok := pm.Marks[Sensitive]; ok {
				sensitive = true
			}
		}
		if !o.Sensitive && sensitive {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Output refers to sensitive values",
				Detail: "This output's value comes from a sensitive variable. Add sensitive = true to the output to show it is intended.", Subject: o.Expr.Range().Ptr()})
			continue
		}
		out[name] = OutputValue{Value: stripMarks(v), Sensitive: sensitive}
	}
	return out, diags
}

// OutputValue is an output's value.
type OutputValue struct {
	Value     cty.Value
	Sensitive bool
}

// RangeOf returns the source range of the attribute at path in r's body,
// or the block's range when the path leads nowhere written.
func RangeOf(r *Resource, path cty.Path) hcl.Range {
	c := r.Content
	best := r.DeclRange
	for i := 0; i < len(path); i++ {
		step, ok := path[i].(cty.GetAttrStep)
		if !ok || c == nil {
			break
		}
		if a, ok := c.Attrs[step.Name]; ok {
			return a.Expr.Range()
		}
		blocks := c.Blocks[step.Name]
		if len(blocks) == 0 {
			break
		}
		idx := 0
		if i+1 < len(path) {
			if is, ok := path[i+1].(cty.IndexStep); ok {
				if is.Key.Type() == cty.Number {
					n, _ := is.Key.AsBigFloat().Int64()
					idx = int(n)
				} else {
					for j, b := range blocks {
						if b.Label == is.Key.AsString() {
							idx = j
						}
					}
				}
				i++
			}
		}
		if d := dynamicIndex(blocks); d >= 0 && idx >= d {
			// Blocks written by a dynamic block have no place of their
			// own: the first dynamic block's content stands for them.
			idx = d
		}
		if idx >= len(blocks) {
			break
		}
		best = blocks[idx].DefRange
		c = blocks[idx].Content
	}
	return best
}

// EvalInstance evaluates one instance again with the current values of the
// instances it refers to (from state, after they were applied), so that an
// argument that was "known after apply" at plan time gets its value. Only
// the resources the block refers to are looked up.
func (d *Desired) EvalInstance(a addr.Instance, current func(addr.Instance) (cty.Value, bool)) (cty.Value, hcl.Diagnostics) {
	inst, ok := d.Instances[a]
	if !ok {
		return cty.NilVal, hcl.Diagnostics{sourceless("Unknown instance", a.String()+" is not in the configuration")}
	}
	if inst.scope != nil {
		d = inst.scope
	}
	r := inst.Resource
	exprs := r.exprs()
	view := d.currentView(exprs, current)
	ctx := view.contextFor(view.baseVariables(), exprs, nil)
	switch a.Key.Kind {
	case addr.IntKey:
		ctx = ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(a.Key.Int))})}
	case addr.StringKey:
		m, _, diags := evalForEach(r.ForEach, ctx)
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
		ctx = ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(a.Key.Str), "value": m[a.Key.Str]})}
	}
	v, diags := evalContent(r.Content, &r.Schema.Block, ctx, nil, &marks{deps: map[addr.Instance]bool{}})
	if !diags.HasErrors() {
		// A path that was not known at plan time is checked now.
		diags = append(diags, d.Lab.hostPathDiags(a, r, v, nil)...)
	}
	return v, diags
}
