package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/par"
	"github.com/zclconf/go-cty/cty"
)

// MaxModuleDepth is how deep module calls may nest: a module that calls
// itself (directly or through others) stops there.
const MaxModuleDepth = 8

// ModuleCall is a module block: the directory Source loaded as Child,
// instantiated once, count times or per for_each key, each instance with
// the arguments as its variables.
type ModuleCall struct {
	Name   string
	Source string
	Dir    string // absolute
	Count  hcl.Expression
	// ForEach is nil when absent, as Count.
	ForEach   hcl.Expression
	Args      map[string]*hcl.Attribute
	DependsOn []hcl.Traversal
	Child     *Lab // nil when the directory could not be loaded
	DeclRange hcl.Range
	// SourceRange is the source argument's value.
	SourceRange hcl.Range
}

var moduleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "source", Required: true}, {Name: "count"}, {Name: "for_each"}, {Name: "depends_on"}, {Name: "providers"}, {Name: "version"},
}}

// IsModule reports whether l is a module's directory rather than the lab's.
func (l *Lab) IsModule() bool { return l.root != nil }

// Root is the lab a module belongs to (l itself for the lab).
func (l *Lab) Root() *Lab {
	if l.root != nil {
		return l.root
	}
	return l
}

// rootOnly refuses a block that only the lab's own directory may have.
func (l *Lab) rootOnly(b *hcl.Block, why string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s block in a module", strings.ToUpper(b.Type[:1])+b.Type[1:]),
		Detail:  fmt.Sprintf("%s is a module (called from %s); %s", l.Dir, l.calledFrom, why),
		Subject: b.DefRange.Ptr()}}
}

func (l *Lab) decodeModule(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	diags := checkName("module", name, b.LabelRanges[0])
	if prev, dup := l.Modules[name]; dup {
		return append(diags, duplicate("module", name, b.DefRange, prev.DeclRange))
	}
	content, rest, d := b.Body.PartialContent(moduleSchema)
	diags = append(diags, d...)
	if d.HasErrors() {
		return diags
	}
	mc := &ModuleCall{Name: name, DeclRange: b.DefRange, Args: map[string]*hcl.Attribute{}}
	args, d := rest.JustAttributes()
	diags = append(diags, d...)
	for n, a := range args {
		mc.Args[n] = a
	}
	for _, n := range []string{"providers", "version"} {
		if a, ok := content.Attributes[n]; ok {
			detail := "Provider blocks are written once, in the lab's directory, and apply to the resources of every module."
			if n == "version" {
				detail = "labform loads local modules only (source = \"./modules/NAME\"): there is no version to pick."
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail: fmt.Sprintf("A module block takes no %s argument. %s", n, detail), Subject: a.NameRange.Ptr()})
		}
	}
	src := content.Attributes["source"]
	mc.SourceRange = src.Expr.Range()
	diags = append(diags, decodeLiteral(src, cty.String, func(v cty.Value) { mc.Source = v.AsString() })...)
	var rd hcl.Diagnostics
	mc.Count, mc.ForEach, mc.DependsOn, rd = decodeRepetition(content.Attributes, "A module block")
	diags = append(diags, rd...)
	if diags.HasErrors() {
		return diags
	}
	if d := checkModuleSource(mc.Source, mc.SourceRange); d != nil {
		return append(diags, d)
	}
	mc.Dir = filepath.Join(l.Dir, filepath.FromSlash(mc.Source))
	if l.Modules == nil {
		l.Modules = map[string]*ModuleCall{}
	}
	l.Modules[name] = mc
	return diags
}

// checkModuleSource accepts a local directory (./x, ../x) and names what
// else the source looks like.
func checkModuleSource(src string, rng hcl.Range) *hcl.Diagnostic {
	if strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") {
		return nil
	}
	kind := "a module source"
	switch {
	case strings.HasPrefix(src, "git::") || strings.HasPrefix(src, "git@") || strings.HasSuffix(src, ".git") ||
		strings.HasPrefix(src, "github.com/") || strings.HasPrefix(src, "gitlab.com/") || strings.HasPrefix(src, "bitbucket.org/"):
		kind = "a git repository"
	case strings.Contains(src, "://") || strings.Contains(src, "::"):
		kind = "a remote address"
	case strings.Count(src, "/") >= 2 && !strings.HasPrefix(src, "/"):
		kind = "a module registry address (NAMESPACE/NAME/PROVIDER)"
	case filepath.IsAbs(src):
		kind = "an absolute path"
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported module source",
		Detail: fmt.Sprintf("%q looks like %s. labform loads local modules only: a directory of %s files given relative to this one, starting with ./ or ../ (source = \"./modules/pod\"). Registry and git sources are not supported; copy the module into the lab.",
			src, kind, FileSuffix),
		Subject: rng.Ptr()}
}

// loadModules loads the directory of every module call of l, once per
// call, with the limits of a lab's files (the sizes add up over the lab
// and its modules), and checks it.
func (l *Lab) loadModules() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedAttrKeys(l.Modules) {
		mc := l.Modules[name]
		if l.depth+1 > MaxModuleDepth {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Modules nested too deep",
				Detail:  fmt.Sprintf("Module calls nest at most %d deep; a module that calls itself, directly or through others, never ends.", MaxModuleDepth),
				Subject: mc.DeclRange.Ptr()})
			continue
		}
		files, err := LabFiles(mc.Dir)
		if err != nil || len(files) == 0 {
			detail := fmt.Sprintf("The directory %s has no *%s files; a module is a directory of such files.", mc.Dir, FileSuffix)
			if err != nil {
				detail = fmt.Sprintf("Cannot read the module's directory: %s.", err)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Module not found", Detail: detail, Subject: mc.SourceRange.Ptr()})
			continue
		}
		root := l.Root()
		child := NewLab(mc.Dir, l.Registry)
		child.root, child.depth = root, l.depth+1
		child.calledFrom = mc.DeclRange.String()
		child.Parser = root.Parser
		child.Name, child.AllowHostPaths, child.tokens = root.Name, root.AllowHostPaths, root.tokens
		refused := false
		for _, f := range files {
			src, d := ReadLabFile(mc.Dir, f)
			if d != nil {
				diags, refused = append(diags, d), true
				continue
			}
			if root.bytes += len(src); root.bytes > MaxLabSize {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Lab too large",
					Detail:  fmt.Sprintf("The files of the lab and its modules have more than %d bytes (%d MiB) together, the most a lab may have; this file is not read.", MaxLabSize, MaxLabSize>>20),
					Subject: &hcl.Range{Filename: f, Start: hcl.InitialPos, End: hcl.InitialPos}})
				refused = true
				break
			}
			diags = append(diags, child.AddFile(f, src)...)
		}
		root.tokens = child.tokens
		if refused {
			continue
		}
		diags = append(diags, child.Check()...)
		mc.Child = child
	}
	return diags
}

// exprs lists the expressions of a module call.
func (mc *ModuleCall) exprs() []hcl.Expression {
	var es []hcl.Expression
	if mc.Count != nil {
		es = append(es, mc.Count)
	}
	if mc.ForEach != nil {
		es = append(es, mc.ForEach)
	}
	for _, n := range sortedAttrKeys(mc.Args) {
		es = append(es, mc.Args[n].Expr)
	}
	for _, tr := range mc.DependsOn {
		es = append(es, &hclsyntax.ScopeTraversalExpr{Traversal: tr, SrcRange: tr.SourceRange()})
	}
	return es
}

// checkModuleCall checks a call's arguments against the module's
// variables: each argument is a variable, each variable without a
// default is given.
func (l *Lab) checkModuleCall(mc *ModuleCall) hcl.Diagnostics {
	var diags hcl.Diagnostics
	meta := &Resource{Count: mc.Count, ForEach: mc.ForEach}
	for _, e := range mc.exprs() {
		diags = append(diags, l.checkExpr(e, meta)...)
	}
	if mc.Child == nil {
		return diags
	}
	vars := mc.Child.Variables
	for _, n := range sortedAttrKeys(mc.Args) {
		if _, ok := vars[n]; !ok {
			a := mc.Args[n]
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail: fmt.Sprintf("The module %q (%s) has no variable named %q.%s A module block's arguments set the variables its files declare.",
					mc.Name, mc.Source, n, didYouMean(n, sortedAttrKeys(vars))),
				Subject: a.NameRange.Ptr()})
		}
	}
	for _, n := range sortedAttrKeys(vars) {
		if _, given := mc.Args[n]; !given && vars[n].Default == cty.NilVal {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
				Detail: fmt.Sprintf("The module %q (%s) declares the variable %q without a default (at %s): set it here, %s = ...",
					mc.Name, mc.Source, n, vars[n].DeclRange, n),
				Subject: mc.DeclRange.Ptr()})
		}
	}
	return diags
}

// checkModuleRef checks module.NAME[KEY].OUTPUT.
func (l *Lab) checkModuleRef(tr hcl.Traversal, bad func(summary, detail string) hcl.Diagnostics) hcl.Diagnostics {
	if len(tr) < 2 {
		return bad("Invalid reference", "A module's outputs are referred to as module.NAME.OUTPUT, or module.NAME[KEY].OUTPUT with count or for_each.")
	}
	name := attrName(tr[1])
	mc, ok := l.Modules[name]
	if !ok {
		return bad("Reference to undeclared module",
			fmt.Sprintf("No module call named %q is declared here.%s A module's values are read where it is called, through its outputs.", name, didYouMean(name, sortedAttrKeys(l.Modules))))
	}
	rest := tr[2:]
	if len(rest) > 0 {
		if _, isIndex := rest[0].(hcl.TraverseIndex); isIndex {
			rest = rest[1:]
		}
	}
	if len(rest) == 0 || mc.Child == nil {
		return nil
	}
	out := attrName(rest[0])
	if out == "" {
		return nil
	}
	if _, ok := mc.Child.Outputs[out]; ok {
		return nil
	}
	if contains(ResourceTypes, out) || out == "module" {
		target, alias := out+".NAME", "x"
		if len(rest) > 1 {
			if n := attrName(rest[1]); n != "" {
				target, alias = out+"."+n, n
			}
		}
		key := ""
		if mc.Count != nil {
			key = "[0]"
		} else if mc.ForEach != nil {
			key = "[KEY]"
		}
		return bad("Reference to another module's resource",
			fmt.Sprintf("module.%s's resources and modules are its own: from here, a module is read only through its outputs. Add an output to %s (output %q { value = %s }) and refer to module.%s%s.%s.",
				name, mc.Source, alias, target, name, key, alias))
	}
	return bad("Reference to undeclared output",
		fmt.Sprintf("The module %q (%s) has no output named %q.%s", name, mc.Source, out, didYouMean(out, sortedAttrKeys(mc.Child.Outputs))))
}

// ResourceAt is the resource block behind ra, which may be in a module
// (module.pod[1].container.leaf is container.leaf of pod's directory).
func (l *Lab) ResourceAt(ra addr.Resource) *Resource {
	cur := l
	if ra.Module != "" {
		steps, err := addr.ParseModule(ra.Module)
		if err != nil {
			return nil
		}
		for _, s := range steps {
			mc := cur.Modules[s.Name]
			if mc == nil || mc.Child == nil {
				return nil
			}
			cur = mc.Child
		}
	}
	return cur.Resources[ra.Local()]
}

// evalModule evaluates every instance of a module call: its arguments in
// this scope become the variables of a scope of its own, whose resources
// join the lab's instances with the instance's module path, and whose
// outputs make the value module.NAME (module.NAME[KEY]) reads here.
func (d *Desired) evalModule(mc *ModuleCall, base map[string]cty.Value, prior Prior) hcl.Diagnostics {
	if mc == nil || mc.Child == nil {
		return nil
	}
	ctx := d.contextFor(base, mc.exprs(), nil)
	var diags hcl.Diagnostics
	var common []cty.Value
	for _, tr := range mc.DependsOn {
		if d.Lab.isModuleCall(tr) {
			common = append(common, d.moduleDeps(attrName(tr[1])))
			continue
		}
		v, dd := tr.TraverseAbs(ctx)
		diags = append(diags, dd...)
		common = append(common, v)
	}
	type inst struct {
		key  addr.Key
		each map[string]cty.Value
	}
	var insts []inst
	switch {
	case mc.Count != nil:
		n, dd := evalCount(mc.Count, ctx)
		if diags = append(diags, dd...); dd.HasErrors() {
			return diags
		}
		for i := 0; i < n; i++ {
			insts = append(insts, inst{key: addr.Int(i), each: map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))})}})
		}
	case mc.ForEach != nil:
		m, marks, dd := evalForEach(mc.ForEach, ctx)
		if diags = append(diags, dd...); dd.HasErrors() {
			return diags
		}
		common = append(common, cty.True.WithMarks(marks))
		for _, k := range sortedAttrKeys(m) {
			insts = append(insts, inst{key: addr.Str(k), each: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": m[k]})}})
		}
	default:
		insts = []inst{{}}
	}
	// What the whole call depends on reaches every resource of the module
	// (scopeMarks) and what reads its variables.
	callMarks := cty.ValueMarks{}
	for mk := range d.scopeMarks {
		callMarks[mk] = struct{}{}
	}
	for _, c := range common {
		_, pvm := c.UnmarkDeepWithPaths()
		for _, pm := range pvm {
			for mk := range pm.Marks {
				callMarks[mk] = struct{}{}
			}
		}
	}
	child := mc.Child
	order, od := child.evalOrder()
	if diags = append(diags, od...); od.HasErrors() {
		return diags
	}
	// Module instances are independent: each is evaluated into instances
	// of its own, on every core, then recorded in order. The first one
	// tells how many a call makes, so that a call far over the lab's
	// limit is refused before the others are evaluated.
	type done struct {
		scope *Desired
		out   cty.Value
		diags hcl.Diagnostics
	}
	results := make([]done, len(insts))
	run := func(i int) {
		in := insts[i]
		ictx := ctx
		if in.each != nil {
			ictx = ctx.NewChild()
			ictx.Variables = in.each
		}
		vars, dd := d.moduleVars(mc, ictx, in.key, callMarks)
		scope := &Desired{Lab: child, Vars: vars, Providers: d.Providers, Instances: map[addr.Instance]*Instance{},
			refs: map[addr.Resource]cty.Value{}, locals: map[string]cty.Value{}, mods: map[string]cty.Value{},
			Module: addr.ChildModule(d.Module, mc.Name, in.key),
			parent: d, call: mc, each: in.each, scopeMarks: callMarks}
		cbase := scope.baseVariables()
		dd = append(dd, scope.evalItems(order, cbase, prior)...)
		out, od := scope.outputObject(cbase)
		results[i] = done{scope: scope, out: out, diags: append(dd, od...)}
	}
	if len(insts) > 0 {
		run(0)
		if n := len(results[0].scope.Instances); len(d.Instances)+n*len(insts) > MaxLabInstances {
			return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many instances",
				Detail: fmt.Sprintf("module.%s makes %d instance(s) of a module of %d resource instance(s): the lab would have at least %d; a lab has at most %d (labform's limit).",
					mc.Name, len(insts), n, len(d.Instances)+n*len(insts), MaxLabInstances),
				Subject: mc.DeclRange.Ptr()})
		}
		par.For(len(insts)-1, func(i int) { run(i + 1) })
	}
	outs := make([]cty.Value, len(insts))
	byKey := map[string]cty.Value{}
	seen := map[string]bool{}
	if d.children == nil {
		d.children = map[string][]*Desired{}
	}
	for i, res := range results {
		// The same mistake in every instance is reported once.
		for _, diag := range res.diags {
			if k := diagKey(diag); !seen[k] {
				seen[k] = true
				diags = append(diags, diag)
			}
		}
		d.children[mc.Name] = append(d.children[mc.Name], res.scope)
		for a, inst := range res.scope.Instances {
			d.Instances[a] = inst
		}
		d.Order = append(d.Order, res.scope.Order...)
		outs[i] = res.out
		if k := insts[i].key; k.Kind == addr.StringKey {
			byKey[k.Str] = outs[i]
		}
	}
	if len(d.Instances) > MaxLabInstances {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many instances",
			Detail:  fmt.Sprintf("With module.%s the lab has %d instances; a lab has at most %d (labform's limit).", mc.Name, len(d.Instances), MaxLabInstances),
			Subject: mc.DeclRange.Ptr()})
	}
	d.mods[mc.Name] = moduleCollection(mc, outs, byKey)
	return diags
}

// moduleCollection is a module call as expressions see it: one object of
// outputs, a tuple of them (count) or an object keyed like for_each.
func moduleCollection(mc *ModuleCall, outs []cty.Value, byKey map[string]cty.Value) cty.Value {
	switch {
	case mc.ForEach != nil:
		return cty.ObjectVal(byKey)
	case mc.Count != nil:
		if len(outs) == 0 {
			return cty.EmptyTupleVal
		}
		return cty.TupleVal(outs)
	case len(outs) == 1:
		return outs[0]
	}
	return cty.DynamicVal
}

// moduleVars evaluates a call's arguments in ctx (with count.index or
// each of the instance key) as the variables of the module's instance,
// converted to their types, with the marks of what they came from and
// callMarks (what the whole call depends on).
func (d *Desired) moduleVars(mc *ModuleCall, ictx *hcl.EvalContext, key addr.Key, callMarks cty.ValueMarks) (map[string]cty.Value, hcl.Diagnostics) {
	child := mc.Child
	var diags hcl.Diagnostics
	vars := map[string]cty.Value{}
	for _, name := range sortedAttrKeys(child.Variables) {
		v := child.Variables[name]
		a, given := mc.Args[name]
		if !given {
			if v.Default == cty.NilVal {
				vars[name] = cty.UnknownVal(v.Type) // reported by Check
			} else {
				vars[name] = v.Default
			}
		} else {
			val, dd := a.Expr.Value(ictx)
			diags = append(diags, d.improveIndexDiags(dd)...)
			if dd.HasErrors() {
				val = cty.UnknownVal(v.Type)
			}
			plain, pvm := val.UnmarkDeepWithPaths()
			conv, err := convertTo(plain, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for module argument",
					Detail:  fmt.Sprintf("The module's variable %q (declared at %s) takes %s: %s.", name, v.DeclRange, v.Type.FriendlyName(), err),
					Subject: a.Expr.Range().Ptr()})
				conv = cty.UnknownVal(v.Type)
			} else if !dd.HasErrors() {
				for _, vd := range v.validate(conv) {
					if vd.Severity == hcl.DiagError {
						vd.Detail += fmt.Sprintf(" The value was given by %s at %s.", addr.ChildModule(d.Module, mc.Name, key), a.Expr.Range())
					}
					diags = append(diags, vd)
				}
			}
			if conv.Type().Equals(plain.Type()) {
				conv = conv.MarkWithPaths(pvm)
			} else {
				// Converted to another shape: the marks hold for the
				// whole value.
				for _, pm := range pvm {
					conv = conv.WithMarks(pm.Marks)
				}
			}
			vars[name] = conv
		}
		if v.Sensitive {
			vars[name] = vars[name].Mark(Sensitive)
		}
		if callMarks != nil {
			vars[name] = vars[name].WithMarks(callMarks)
		}
	}
	return vars, diags
}

// currentView is scope d with the values of the instances that current
// knows (the state, as apply goes): the resources and module calls exprs
// mention, and the variables of a module instance from its call's
// arguments, evaluated the same way in the parent's current view.
func (d *Desired) currentView(exprs []hcl.Expression, current func(addr.Instance) (cty.Value, bool)) *Desired {
	refs := map[addr.Resource]cty.Value{}
	var mods map[string]cty.Value
	for _, e := range exprs {
		for _, tr := range e.Variables() {
			if ra, ok := d.Lab.resourceOf(tr); ok {
				if _, done := refs[ra]; !done {
					refs[ra] = d.currentCollection(ra, current)
				}
				continue
			}
			if tr.RootName() != "module" || len(tr) < 2 {
				continue
			}
			name := attrName(tr[1])
			if _, ok := d.children[name]; !ok {
				continue
			}
			if mods == nil {
				mods = make(map[string]cty.Value, len(d.mods))
				for k, v := range d.mods {
					mods[k] = v
				}
			}
			mods[name] = d.currentModule(name, current)
		}
	}
	if mods == nil {
		mods = d.mods
	}
	vars := d.Vars
	if d.parent != nil {
		vars = d.currentVars(current)
	}
	return &Desired{Lab: d.Lab, Vars: vars, Providers: d.Providers, refs: refs, locals: d.locals, mods: mods, Module: d.Module,
		parent: d.parent, call: d.call, each: d.each, children: d.children}
}

// currentModule is the module call name's value with its instances'
// outputs read in their current views.
func (d *Desired) currentModule(name string, current func(addr.Instance) (cty.Value, bool)) cty.Value {
	scopes := d.children[name]
	outs := make([]cty.Value, len(scopes))
	byKey := map[string]cty.Value{}
	var mc *ModuleCall
	for i, sc := range scopes {
		mc = sc.call
		var exprs []hcl.Expression
		for _, n := range sortedAttrKeys(sc.Lab.Outputs) {
			exprs = append(exprs, sc.Lab.Outputs[n].Expr)
		}
		view := sc.currentView(exprs, current)
		outs[i], _ = view.outputObject(view.baseVariables())
		if sc.each != nil && sc.call.ForEach != nil {
			byKey[sc.each["each"].GetAttr("key").AsString()] = outs[i]
		}
	}
	if mc == nil {
		return d.mods[name]
	}
	return moduleCollection(mc, outs, byKey)
}

// currentVars are a module instance's variables from its call's
// arguments in the parent's current view.
func (d *Desired) currentVars(current func(addr.Instance) (cty.Value, bool)) map[string]cty.Value {
	exprs := d.call.exprs()
	pv := d.parent.currentView(exprs, current)
	ctx := pv.contextFor(pv.baseVariables(), exprs, nil)
	if d.each != nil {
		ctx = ctx.NewChild()
		ctx.Variables = d.each
	}
	key := addr.Key{}
	if steps, err := addr.ParseModule(d.Module); err == nil {
		key = steps[len(steps)-1].Key
	}
	vars, _ := pv.moduleVars(d.call, ctx, key, nil)
	return vars
}

// outputObject is a module instance's outputs as one object, marks kept:
// whoever reads an output depends on the instances it came from.
func (d *Desired) outputObject(base map[string]cty.Value) (cty.Value, hcl.Diagnostics) {
	vals := map[string]cty.Value{}
	var diags hcl.Diagnostics
	for _, name := range sortedAttrKeys(d.Lab.Outputs) {
		o := d.Lab.Outputs[name]
		v, dd := o.Expr.Value(d.contextFor(base, []hcl.Expression{o.Expr}, nil))
		diags = append(diags, d.improveIndexDiags(dd)...)
		if dd.HasErrors() {
			v = cty.DynamicVal
		}
		if o.Sensitive {
			v = v.Mark(Sensitive)
		} else if hasSensitive(v) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Output refers to sensitive values",
				Detail: "This module output's value comes from a sensitive value. Add sensitive = true to the output to show it is intended; the value stays sensitive where the module's caller reads it.", Subject: o.Expr.Range().Ptr()})
			v = cty.DynamicVal
		}
		vals[name] = v
	}
	return cty.ObjectVal(vals), diags
}

// AllResources lists the resource blocks of the lab and of every module it
// uses, each module once per call, in declaration order.
func (l *Lab) AllResources() []*Resource {
	var out []*Resource
	for _, ra := range l.Order {
		out = append(out, l.Resources[ra])
	}
	for _, name := range sortedAttrKeys(l.Modules) {
		if c := l.Modules[name].Child; c != nil {
			out = append(out, c.AllResources()...)
		}
	}
	return out
}

// isModuleCall reports whether tr is module.NAME of a declared call.
func (l *Lab) isModuleCall(tr hcl.Traversal) bool {
	if tr.RootName() != "module" || len(tr) != 2 {
		return false
	}
	_, ok := l.Modules[attrName(tr[1])]
	return ok
}

// moduleDeps is a value marked with every instance of every instance of
// the module call name (depends_on = [module.pod]).
func (d *Desired) moduleDeps(name string) cty.Value {
	marks := cty.ValueMarks{}
	for _, sc := range d.children[name] {
		for _, a := range sc.Order { // nested modules' instances too
			marks[depMark{a}] = struct{}{}
		}
	}
	return cty.True.WithMarks(marks)
}

// diagKey identifies a diagnostic by its place and words.
func diagKey(d *hcl.Diagnostic) string {
	k := d.Summary + "\x00" + d.Detail
	if d.Subject != nil {
		k += "\x00" + d.Subject.String()
	}
	return k
}

// hasSensitive reports whether v or anything in it is sensitive.
func hasSensitive(v cty.Value) bool {
	_, pvm := v.UnmarkDeepWithPaths()
	for _, pm := range pvm {
		if _, ok := pm.Marks[Sensitive]; ok {
			return true
		}
	}
	return false
}
