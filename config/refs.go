package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/par"
)

// item names a thing that is evaluated once: a local or a resource block.
type item struct {
	local  string        // set for a local
	res    addr.Resource // set for a resource
	module string        // set for a module call
}

func (it item) String() string {
	if it.local != "" {
		return "local." + it.local
	}
	if it.module != "" {
		return "module." + it.module
	}
	return it.res.String()
}

// Check verifies every reference in the lab statically and that the
// references between locals and resources have no cycle. Load calls it;
// AddFile users call it after the last file.
func (l *Lab) Check() hcl.Diagnostics {
	var diags hcl.Diagnostics
	if !l.modulesLoaded {
		l.modulesLoaded = true
		diags = l.loadModules()
	}
	for _, name := range sortedAttrKeys(l.Modules) {
		diags = append(diags, l.checkModuleCall(l.Modules[name])...)
	}
	sort.SliceStable(l.Order, func(i, j int) bool {
		a, b := l.Resources[l.Order[i]].DeclRange, l.Resources[l.Order[j]].DeclRange
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	for _, name := range sortedAttrKeys(l.Locals) {
		diags = append(diags, l.checkExpr(l.Locals[name].Expr, nil)...)
	}
	// Each resource's expressions on every core; reported in order.
	exprDiags := make([]hcl.Diagnostics, len(l.Order))
	par.For(len(l.Order), func(i int) {
		r := l.Resources[l.Order[i]]
		for _, tr := range r.variables() {
			exprDiags[i] = append(exprDiags[i], l.checkTraversal(tr, r)...)
		}
	})
	for i, ra := range l.Order {
		r := l.Resources[ra]
		diags = append(diags, exprDiags[i]...)
		for _, tr := range r.DependsOn {
			diags = append(diags, l.checkTraversal(tr, r)...)
			if _, ok := l.resourceOf(tr); !ok && !l.isModuleCall(tr) && len(diags) == 0 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid depends_on reference",
					Detail: "depends_on lists resources and module calls, e.g. depends_on = [vm.spine, module.pod].", Subject: tr.SourceRange().Ptr()})
			}
		}
	}
	for _, name := range sortedAttrKeys(l.Outputs) {
		diags = append(diags, l.checkExpr(l.Outputs[name].Expr, nil)...)
	}
	diags = append(diags, l.checkChecks()...)
	for _, name := range sortedAttrKeys(l.Providers) {
		for _, e := range l.Providers[name].Content.exprs() {
			diags = append(diags, l.checkExpr(e, nil)...)
			for _, tr := range e.Variables() {
				if _, isRes := l.resourceOf(tr); isRes {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid provider configuration",
						Detail: "A provider block may refer to variables and locals, not to resources.", Subject: tr.SourceRange().Ptr()})
				}
			}
		}
	}
	diags = append(diags, l.checkRefactor()...)
	diags = append(diags, l.checkImports()...)
	diags = append(diags, l.resolveHosts()...)
	if diags.HasErrors() {
		return diags
	}
	if _, d := l.evalOrder(); d.HasErrors() {
		diags = append(diags, d...)
	}
	return diags
}

// exprs lists every expression of a resource block. The list is shared:
// callers do not change it.
func (r *Resource) exprs() []hcl.Expression {
	r.exprsOnce.Do(func() {
		var es []hcl.Expression
		if r.Count != nil {
			es = append(es, r.Count)
		}
		if r.ForEach != nil {
			es = append(es, r.ForEach)
		}
		r.exprList = append(es, r.Content.exprs()...)
	})
	return r.exprList
}

// variables lists the references of every expression of a resource
// block, in the order of exprs: what ranging over exprs and each one's
// Variables gives. The list is shared.
func (r *Resource) variables() []hcl.Traversal {
	r.varsOnce.Do(func() {
		var vars []hcl.Traversal
		if r.Count != nil {
			vars = append(vars, r.Count.Variables()...)
		}
		if r.ForEach != nil {
			vars = append(vars, r.ForEach.Variables()...)
		}
		r.varList = r.Content.variables(vars)
	})
	return r.varList
}

// variables appends the references of c's expressions to vars, in the
// order of exprs, from what decodeContent found where it can.
func (c *Content) variables(vars []hcl.Traversal) []hcl.Traversal {
	if c == nil {
		return vars
	}
	// When decoding found no reference in any attribute, there is
	// nothing to append in their order.
	if c.vars == nil || len(c.vars) > 0 {
		for _, name := range sortedAttrNames(c.Attrs) {
			if c.vars != nil {
				vars = append(vars, c.vars[name]...)
			} else {
				vars = append(vars, c.Attrs[name].Expr.Variables()...)
			}
		}
	}
	for _, name := range sortedAttrKeys(c.Blocks) {
		for _, nb := range c.Blocks[name] {
			if nb.Dyn == nil {
				vars = nb.Content.variables(vars)
				continue
			}
			vars = append(vars, nb.Dyn.ForEach.Variables()...)
			for _, e := range append(nb.Dyn.Labels, nb.Content.exprs()...) {
				vars = append(vars, scopedExpr{Expression: e, iterator: nb.Dyn.Iterator}.Variables()...)
			}
		}
	}
	return vars
}

func (c *Content) exprs() []hcl.Expression {
	if c == nil {
		return nil
	}
	var es []hcl.Expression
	for _, name := range sortedAttrNames(c.Attrs) {
		es = append(es, c.Attrs[name].Expr)
	}
	for _, name := range sortedAttrKeys(c.Blocks) {
		for _, nb := range c.Blocks[name] {
			if nb.Dyn == nil {
				es = append(es, nb.Content.exprs()...)
				continue
			}
			es = append(es, nb.Dyn.ForEach)
			for _, e := range append(nb.Dyn.Labels, nb.Content.exprs()...) {
				es = append(es, scopedExpr{Expression: e, iterator: nb.Dyn.Iterator})
			}
		}
	}
	return es
}

func (l *Lab) checkExpr(e hcl.Expression, in *Resource) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range e.Variables() {
		diags = append(diags, l.checkTraversal(tr, in)...)
	}
	return diags
}

var labAttrs = []string{"name", "netns", "dir", "address"}

// checkTraversal checks that a reference names something that exists.
func (l *Lab) checkTraversal(tr hcl.Traversal, in *Resource) hcl.Diagnostics {
	root := tr.RootName()
	rng := tr.SourceRange().Ptr()
	second := ""
	if len(tr) > 1 {
		second = attrName(tr[1])
	}
	bad := func(summary, detail string) hcl.Diagnostics {
		return hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng}}
	}
	switch root {
	case "var":
		if second == "" {
			return bad("Invalid reference", "A variable is referred to as var.NAME.")
		}
		if _, ok := l.Variables[second]; !ok {
			return bad("Reference to undeclared input variable",
				fmt.Sprintf("An input variable named %q has not been declared.%s Declare it with a variable %q {} block.",
					second, didYouMean(second, sortedAttrKeys(l.Variables)), second))
		}
	case "local":
		if second == "" {
			return bad("Invalid reference", "A local value is referred to as local.NAME.")
		}
		if _, ok := l.Locals[second]; !ok {
			return bad("Reference to undeclared local value",
				fmt.Sprintf("A local value named %q has not been declared.%s", second, didYouMean(second, sortedAttrKeys(l.Locals))))
		}
	case "module":
		return l.checkModuleRef(tr, bad)
	case "path":
		if second != "module" && second != "cwd" {
			return bad("Invalid path attribute", "path has the attributes module (the lab's directory) and cwd.")
		}
	case "lab":
		if len(tr) > 1 && !contains(labAttrs, second) {
			return bad("Unsupported attribute", fmt.Sprintf("lab has the attributes %s.%s", strings.Join(labAttrs, ", "), didYouMean(second, labAttrs)))
		}
	case "count":
		if in == nil || in.Count == nil {
			return bad("Reference to \"count\" in non-counted context",
				"count.index can be used only in a resource block that has count set.")
		}
		if second != "index" {
			return bad("Invalid count attribute", "count has one attribute, index.")
		}
	case "each":
		if in == nil || in.ForEach == nil {
			return bad("Reference to \"each\" in context without for_each",
				"each.key and each.value can be used only in a resource block that has for_each set.")
		}
		if second != "key" && second != "value" {
			return bad("Invalid each attribute", "each has the attributes key and value.")
		}
	default:
		if contains(ResourceTypes, root) {
			if second == "" {
				return bad("Invalid reference", fmt.Sprintf("A resource is referred to as %s.NAME.", root))
			}
			ra := addr.Resource{Type: root, Name: second}
			if _, ok := l.Resources[ra]; !ok {
				var names []string
				for a := range l.Resources {
					if a.Type == root {
						names = append(names, a.Name)
					}
				}
				sort.Strings(names)
				hint := didYouMean(second, names)
				if l.IsModule() {
					hint += fmt.Sprintf(" %s is a module: it sees its own resources only, not the lab's nor another module's. Pass what it needs through a variable, set in the module block.", l.Dir)
				}
				return bad("Reference to undeclared resource",
					fmt.Sprintf("A %s resource named %q has not been declared.%s", root, second, hint))
			}
			return nil
		}
		roots := append([]string{"var", "local", "path", "lab", "count", "each", "module"}, ResourceTypes...)
		return bad("Unknown variable", fmt.Sprintf("There is no variable named %q.%s", root, didYouMean(root, roots)))
	}
	return nil
}

// resourceOf returns the resource a traversal refers to, if any.
func (l *Lab) resourceOf(tr hcl.Traversal) (addr.Resource, bool) {
	if len(tr) < 2 || !contains(ResourceTypes, tr.RootName()) {
		return addr.Resource{}, false
	}
	ra := addr.Resource{Type: tr.RootName(), Name: attrName(tr[1])}
	_, ok := l.Resources[ra]
	return ra, ok
}

// refsOf lists the locals and resources an item refers to.
func (l *Lab) refsOf(it item) []item {
	var exprs []hcl.Expression
	var vars, extra []hcl.Traversal
	if it.local != "" {
		exprs = []hcl.Expression{l.Locals[it.local].Expr}
	} else if it.module != "" {
		exprs = l.Modules[it.module].exprs()
	} else {
		r := l.Resources[it.res]
		vars = r.variables()
		extra = r.DependsOn
	}
	seen := map[item]bool{}
	var out []item
	add := func(tr hcl.Traversal) {
		var dep item
		if tr.RootName() == "local" && len(tr) > 1 {
			dep = item{local: attrName(tr[1])}
		} else if _, ok := l.Modules[attrName(tr[1%len(tr)])]; ok && tr.RootName() == "module" && len(tr) > 1 {
			dep = item{module: attrName(tr[1])}
		} else if ra, ok := l.resourceOf(tr); ok {
			dep = item{res: ra}
		} else {
			return
		}
		if !seen[dep] {
			seen[dep] = true
			out = append(out, dep)
		}
	}
	for _, e := range exprs {
		for _, tr := range e.Variables() {
			add(tr)
		}
	}
	for _, tr := range vars {
		add(tr)
	}
	for _, tr := range extra {
		add(tr)
	}
	return out
}

// evalOrder sorts locals and resources so that everything comes after what
// it refers to, or reports the cycles.
func (l *Lab) evalOrder() ([]item, hcl.Diagnostics) {
	l.orderMu.Lock()
	defer l.orderMu.Unlock()
	if l.orderDone {
		return l.order, l.orderDiags
	}
	l.order, l.orderRefs, l.orderDiags = l.computeOrder()
	l.orderDone = true
	return l.order, l.orderDiags
}

func (l *Lab) computeOrder() ([]item, map[item][]item, hcl.Diagnostics) {
	var items []item
	for _, name := range sortedAttrKeys(l.Locals) {
		items = append(items, item{local: name})
	}
	for _, ra := range l.Order {
		items = append(items, item{res: ra})
	}
	for _, name := range sortedAttrKeys(l.Modules) {
		items = append(items, item{module: name})
	}
	// What each item refers to, found on every core.
	refs := make([][]item, len(items))
	par.For(len(items), func(i int) { refs[i] = l.refsOf(items[i]) })
	refsOf := make(map[item][]item, len(items))
	for i, it := range items {
		refsOf[it] = refs[i]
	}
	const (
		unvisited = iota
		visiting
		done
	)
	mark := make(map[item]int, len(items))
	order := make([]item, 0, len(items))
	var diags hcl.Diagnostics
	var stack []item
	var visit func(it item)
	visit = func(it item) {
		switch mark[it] {
		case done:
			return
		case visiting:
			// The cycle is the stack from it's first occurrence.
			i := len(stack) - 1
			for stack[i] != it {
				i--
			}
			cycle := append([]item(nil), stack[i:]...)
			diags = append(diags, cycleDiag(l, cycle))
			return
		}
		mark[it] = visiting
		stack = append(stack, it)
		deps, ok := refsOf[it]
		if !ok {
			deps = l.refsOf(it)
		}
		for _, dep := range deps {
			visit(dep)
		}
		stack = stack[:len(stack)-1]
		mark[it] = done
		order = append(order, it)
	}
	for _, it := range items {
		visit(it)
	}
	return order, refsOf, diags
}

func cycleDiag(l *Lab, cycle []item) *hcl.Diagnostic {
	// Rotate so that the report is stable: start at the smallest name.
	min := 0
	for i := range cycle {
		if cycle[i].String() < cycle[min].String() {
			min = i
		}
	}
	cycle = append(cycle[min:], cycle[:min]...)
	names := make([]string, len(cycle))
	for i, it := range cycle {
		names[i] = it.String()
	}
	var rng hcl.Range
	if cycle[0].local != "" {
		rng = l.Locals[cycle[0].local].DeclRange
	} else if cycle[0].module != "" {
		rng = l.Modules[cycle[0].module].DeclRange
	} else {
		rng = l.Resources[cycle[0].res].DeclRange
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Dependency cycle",
		Detail:  fmt.Sprintf("These refer to each other in a cycle: %s -> %s. Remove one of the references.", strings.Join(names, " -> "), names[0]),
		Subject: rng.Ptr()}
}

// didYouMean returns " Did you mean "x"?" for the nearest name within an
// edit distance of 3, or "".
func didYouMean(given string, names []string) string {
	best, bestDist := "", 4
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}
