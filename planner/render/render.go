package render

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/sergi/go-diff/diffmatchpatch"
	"github.com/zclconf/go-cty/cty"
)

// Colors say whether to color output (only on a terminal, never with
// NO_COLOR or -no-color: the CLI decides).
type Colors bool

func (c Colors) wrap(code, s string) string {
	if !c {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c Colors) sym(s string) string {
	switch strings.TrimSpace(s) {
	case "+":
		return c.wrap("32", s)
	case "-":
		return c.wrap("31", s)
	case "~":
		return c.wrap("33", s)
	case "-/+", "+/-":
		return c.wrap("35", s)
	case "<=":
		return c.wrap("36", s)
	}
	return s
}

// Bold is for headings.
func (c Colors) Bold(s string) string { return c.wrap("1", s) }

// Plan renders a plan for a person.
func Plan(p *planner.Plan, c Colors) string {
	var b strings.Builder
	if len(p.Drift) > 0 && p.Mode != planner.RefreshOnlyMode {
		b.WriteString(c.Bold("Objects have changed outside of labform") + "\n\n")
		b.WriteString("labform detected the following changes made outside of labform since the last apply:\n\n")
		writeChanges(&b, p.Drift, c, true)
	}
	var changes []*planner.Change
	for _, ch := range p.Changes {
		if ch.Action != planner.NoOp || ch.MovedFrom != nil || ch.ImportedFrom != "" {
			changes = append(changes, ch)
		}
	}
	if p.Mode == planner.RefreshOnlyMode {
		for _, mv := range p.Moves {
			fmt.Fprintf(&b, "  %s\n", c.Bold(fmt.Sprintf("# %s has moved to %s", mv.From, mv.To)))
		}
		if len(p.Moves) > 0 {
			b.WriteString("\n")
		}
		if len(changes) == 0 && len(p.Moves) > 0 {
			b.WriteString("Applying this refresh-only plan will record the moves in the state; it changes nothing in the lab.\n")
			return b.String()
		}
		if len(changes) == 0 {
			b.WriteString("No changes. The state matches the lab; refreshing would change nothing.\n")
			return b.String()
		}
		b.WriteString(c.Bold("Objects have changed outside of labform") + "\n\n")
		writeChanges(&b, changes, c, true)
		fmt.Fprintf(&b, "Applying this refresh-only plan will update the state to match the lab (%d object(s)); it changes nothing in the lab.\n", len(changes))
		return b.String()
	}
	outputsChange := false
	for _, o := range p.Outputs {
		if !same(o.Before, o.After) {
			outputsChange = true
		}
	}
	if len(changes) == 0 && !outputsChange {
		b.WriteString("No changes. The lab matches the configuration.\n")
		return b.String()
	}
	if len(changes) > 0 {
		b.WriteString("labform will perform the following actions:\n\n")
		writeChanges(&b, changes, c, false)
		add, chg, del := p.Counts()
		forget, imports := "", ""
		if n := p.Forgets(); n > 0 {
			forget = fmt.Sprintf(", %d to forget", n)
		}
		if n := len(p.Imports); n > 0 {
			imports = fmt.Sprintf("%d to import, ", n)
		}
		fmt.Fprintf(&b, "%s %s%d to add, %d to change, %d to destroy%s.\n", c.Bold("Plan:"), imports, add, chg, del, forget)
		if r := restarts(changes); r > 0 {
			fmt.Fprintf(&b, "(%d of the changes restart their object: stop, reconfigure, start.)\n", r)
		}
	}
	if outputsChange {
		b.WriteString("\nChanges to Outputs:\n")
		for _, o := range p.Outputs {
			if same(o.Before, o.After) {
				continue
			}
			sym, val := "~", ""
			switch {
			case o.Before.IsNull():
				sym, val = "+", value(o.After, o.Sensitive, 4)
			case o.After.IsNull():
				sym, val = "-", value(o.Before, o.Sensitive, 4)+" -> null"
			default:
				val = value(o.Before, o.Sensitive, 4) + " -> " + value(o.After, o.Sensitive, 4)
			}
			fmt.Fprintf(&b, "  %s %s = %s\n", c.sym(sym), o.Name, val)
		}
	}
	return b.String()
}

func restarts(cs []*planner.Change) int {
	n := 0
	for _, c := range cs {
		if c.Action == planner.Update && c.Cost == providers.Restart {
			n++
		}
	}
	return n
}

func header(ch *planner.Change, drift bool) (sym, text string) {
	a := ch.Addr.String()
	if drift {
		switch {
		case ch.After.IsNull():
			return "-", fmt.Sprintf("# %s has been deleted", a)
		case ch.Before.IsNull():
			why := ch.Reason
			if why == "" {
				why = "its create was interrupted"
			}
			return "+", fmt.Sprintf("# %s has been found (%s; it is now in state)", a, why)
		}
		return "~", fmt.Sprintf("# %s has changed", a)
	}
	switch ch.Action {
	case planner.NoOp:
		if ch.MovedFrom != nil {
			return " ", fmt.Sprintf("# %s has moved to %s", ch.MovedFrom, a)
		}
		if ch.ImportedFrom != "" {
			return " ", fmt.Sprintf("# %s will be imported from %q", a, ch.ImportedFrom)
		}
	case planner.Forget:
		return ".", fmt.Sprintf("# %s will no longer be managed by labform", a)
	case planner.Create:
		return "+", fmt.Sprintf("# %s will be created", a)
	case planner.Delete:
		if ch.Deposed {
			return "-", fmt.Sprintf("# %s (deposed object) will be destroyed", a)
		}
		return "-", fmt.Sprintf("# %s will be destroyed", a)
	case planner.DeleteThenCreate:
		if ch.Tainted {
			return "-/+", fmt.Sprintf("# %s is tainted, so must be replaced", a)
		}
		return "-/+", fmt.Sprintf("# %s must be replaced", a)
	case planner.CreateThenDelete:
		if ch.Tainted {
			return "+/-", fmt.Sprintf("# %s is tainted, so must be replaced (create before destroy)", a)
		}
		return "+/-", fmt.Sprintf("# %s must be replaced (create before destroy)", a)
	case planner.Update:
		if ch.Cost == providers.Restart {
			return "~", fmt.Sprintf("# %s will be restarted (stopped, reconfigured and started again)", a)
		}
		return "~", fmt.Sprintf("# %s will be updated in-place", a)
	case planner.Read:
		return "~", fmt.Sprintf("# %s has changed outside labform", a)
	}
	return " ", "# " + a
}

// writeChanges writes each change as writeChange does, the changes on
// every core (a plan of 10,000 creates took a quarter of a second to
// write on one).
func writeChanges(b *strings.Builder, changes []*planner.Change, c Colors, drift bool) {
	parts := make([]string, len(changes))
	par.For(len(changes), func(i int) {
		var pb strings.Builder
		writeChange(&pb, changes[i], c, drift)
		parts[i] = pb.String()
	})
	n := 0
	for _, s := range parts {
		n += len(s)
	}
	b.Grow(n)
	for _, s := range parts {
		b.WriteString(s)
	}
}

func writeChange(b *strings.Builder, ch *planner.Change, c Colors, drift bool) {
	sym, text := header(ch, drift)
	fmt.Fprintf(b, "  %s", c.Bold(text))
	if ch.Reason != "" && !drift {
		fmt.Fprintf(b, " (%s)", ch.Reason)
	}
	b.WriteString("\n")
	if ch.MovedFrom != nil && ch.Action != planner.NoOp && !drift {
		fmt.Fprintf(b, "  # (moved from %s)\n", ch.MovedFrom)
	}
	if ch.ImportedFrom != "" && ch.Action != planner.NoOp && !drift {
		fmt.Fprintf(b, "  # (imported from %q)\n", ch.ImportedFrom)
	}
	name := fmt.Sprintf("%s %q", ch.Addr.Type, ch.Addr.Name)
	fmt.Fprintf(b, "%s %s {\n", padSym(c, sym), name)
	w := &writer{b: b, c: c, forced: forcedMap(ch), before: sensSet(ch.BeforeSensitive), after: sensSet(ch.AfterSensitive)}
	switch {
	case ch.Action == planner.Forget:
		w.whole(" ", ch.Before, 8, nil)
	case ch.Before.IsNull():
		w.whole("+", ch.After, 8, nil)
	case ch.After.IsNull():
		w.whole("-", ch.Before, 8, nil)
	default:
		w.object(ch.Before, ch.After, 8, nil)
	}
	b.WriteString("    }\n\n")
}

func padSym(c Colors, sym string) string {
	return c.sym(fmt.Sprintf("%3s", sym))
}

func forcedMap(ch *planner.Change) map[string]providers.Cost {
	m := map[string]providers.Cost{}
	for _, pc := range ch.ForcedBy {
		if len(pc.Path) == 1 {
			if s, ok := pc.Path[0].(cty.GetAttrStep); ok {
				m[s.Name] = pc.Cost
			}
		}
	}
	return m
}

// sensSet holds the top-level attributes to hide: one sensitive value
// anywhere inside an attribute hides the whole attribute.
func sensSet(ps []cty.Path) map[string]bool {
	m := map[string]bool{}
	for _, p := range ps {
		if len(p) > 0 {
			m[pathKey(p[:1])] = true
		}
	}
	return m
}

func pathKey(p cty.Path) string {
	var parts []string
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			parts = append(parts, s.Name)
		case cty.IndexStep:
			parts = append(parts, "["+s.Key.GoString()+"]")
		}
	}
	return strings.Join(parts, ".")
}

type writer struct {
	b             *strings.Builder
	c             Colors
	forced        map[string]providers.Cost
	before, after map[string]bool
}

func (w *writer) sensitive(path cty.Path, after bool) bool {
	set := w.before
	if after {
		set = w.after
	}
	for i := 1; i <= len(path); i++ {
		if set[pathKey(path[:i])] {
			return true
		}
	}
	return false
}

func sortedAttrs(v cty.Value) []string {
	var names []string
	for n := range v.Type().AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func width(names []string) int {
	w := 0
	for _, n := range names {
		if len(n) > w {
			w = len(n)
		}
	}
	return w
}

// whole writes every set attribute of an object being created or destroyed.
func (w *writer) whole(sym string, v cty.Value, indent int, path cty.Path) {
	names := sortedAttrs(v)
	shown, vals := names[:0], make([]cty.Value, 0, len(names))
	for _, n := range names {
		av := v.GetAttr(n)
		if av.IsKnown() && av.IsNull() {
			continue
		}
		if av.IsKnown() && (av.Type().IsListType() || av.Type().IsMapType()) && av.LengthInt() == 0 {
			continue
		}
		shown = append(shown, n)
		vals = append(vals, av)
	}
	wd := width(shown)
	lead := strings.Repeat(" ", indent-2) + w.c.sym(sym) + " "
	for i, n := range shown {
		sensitive := false
		if len(w.before) > 0 || len(w.after) > 0 {
			sensitive = w.sensitive(append(append(cty.Path{}, path...), cty.GetAttrStep{Name: n}), sym == "+")
		}
		// As fmt's "%s%s %-*s = %s\n" writes it.
		w.b.WriteString(lead)
		w.b.WriteString(n)
		for pad := wd - utf8.RuneCountInString(n); pad > 0; pad-- {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(" = ")
		w.b.WriteString(value(vals[i], sensitive, indent))
		w.b.WriteByte('\n')
	}
}

// object writes the differences between two objects.
func (w *writer) object(before, after cty.Value, indent int, path cty.Path) {
	names := sortedAttrs(after)
	var changed []string
	hidden := 0
	for _, n := range names {
		if same(before.GetAttr(n), after.GetAttr(n)) {
			hidden++
			continue
		}
		changed = append(changed, n)
	}
	wd := width(changed)
	pad := strings.Repeat(" ", indent-2)
	for _, n := range changed {
		bv, av := before.GetAttr(n), after.GetAttr(n)
		p := append(append(cty.Path{}, path...), cty.GetAttrStep{Name: n})
		note := ""
		if len(path) == 0 {
			switch w.forced[n] {
			case providers.Replace:
				note = w.c.wrap("31", " # forces replacement")
			case providers.Restart:
				note = w.c.wrap("33", " # forces restart")
			}
		}
		bs, as := w.sensitive(p, false), w.sensitive(p, true)
		switch {
		case bv.IsNull():
			fmt.Fprintf(w.b, "%s%s %-*s = %s%s\n", pad, w.c.sym("+"), wd, n, value(av, as, indent), note)
		case av.IsKnown() && av.IsNull():
			fmt.Fprintf(w.b, "%s%s %-*s = %s -> null%s\n", pad, w.c.sym("-"), wd, n, value(bv, bs, indent), note)
		case !bs && !as && isMultiline(bv, av):
			fmt.Fprintf(w.b, "%s%s %s = <<-EOT%s\n", pad, w.c.sym("~"), n, note)
			w.b.WriteString(lineDiff(bv.AsString(), av.AsString(), indent+2, w.c))
			fmt.Fprintf(w.b, "%s  EOT\n", pad)
		case !bs && !as && bv.IsKnown() && av.IsKnown() && bv.Type().IsObjectType() && av.Type().IsObjectType():
			fmt.Fprintf(w.b, "%s%s %s {%s\n", pad, w.c.sym("~"), n, note)
			w.object(bv, av, indent+4, p)
			fmt.Fprintf(w.b, "%s  }\n", pad)
		case !bs && !as && bv.IsKnown() && av.IsWhollyKnown() && isSeq(bv) && isSeq(av):
			fmt.Fprintf(w.b, "%s%s %s = [%s\n", pad, w.c.sym("~"), n, note)
			w.seq(bv, av, indent+4)
			fmt.Fprintf(w.b, "%s  ]\n", pad)
		default:
			fmt.Fprintf(w.b, "%s%s %-*s = %s -> %s%s\n", pad, w.c.sym("~"), wd, n, value(bv, bs, indent), value(av, as, indent), note)
		}
	}
	if hidden > 0 {
		fmt.Fprintf(w.b, "%s  # (%d unchanged attribute%s hidden)\n", pad, hidden, plural(hidden))
	}
}

// seq writes a list's difference: elements kept, removed and added, by a
// longest-common-subsequence match (what a firewall rule list needs).
func (w *writer) seq(before, after cty.Value, indent int) {
	bs, as := before.AsValueSlice(), after.AsValueSlice()
	// LCS table; lists here are short (rules, endpoints).
	n, m := len(bs), len(as)
	if n*m > 4_000_000 {
		for _, v := range bs {
			fmt.Fprintf(w.b, "%s%s %s,\n", strings.Repeat(" ", indent-2), w.c.sym("-"), value(v, false, indent))
		}
		for _, v := range as {
			fmt.Fprintf(w.b, "%s%s %s,\n", strings.Repeat(" ", indent-2), w.c.sym("+"), value(v, false, indent))
		}
		return
	}
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if same(bs[i], as[j]) {
				l[i][j] = l[i+1][j+1] + 1
			} else if l[i+1][j] >= l[i][j+1] {
				l[i][j] = l[i+1][j]
			} else {
				l[i][j] = l[i][j+1]
			}
		}
	}
	pad := strings.Repeat(" ", indent-2)
	kept := 0
	flushKept := func() {
		if kept > 0 {
			fmt.Fprintf(w.b, "%s  # (%d unchanged element%s hidden)\n", pad, kept, plural(kept))
			kept = 0
		}
	}
	// Walk the LCS into runs of changes between kept elements. In a run,
	// the k-th removed element and the k-th added one, when both are
	// objects (a nested block such as a file or a rule), are shown as
	// one element changed in place: only what differs, with a line diff
	// of a changed text, rather than the whole element twice.
	var dels, adds []cty.Value
	flushRun := func() {
		k := 0
		for ; k < len(dels) && k < len(adds) && isObject(dels[k]) && isObject(adds[k]); k++ {
			fmt.Fprintf(w.b, "%s%s {\n", pad, w.c.sym("~"))
			w.object(dels[k], adds[k], indent+4, cty.Path{cty.IndexStep{Key: cty.NumberIntVal(int64(k))}})
			fmt.Fprintf(w.b, "%s  },\n", pad)
		}
		for _, v := range dels[k:] {
			fmt.Fprintf(w.b, "%s%s %s,\n", pad, w.c.sym("-"), value(v, false, indent))
		}
		for _, v := range adds[k:] {
			fmt.Fprintf(w.b, "%s%s %s,\n", pad, w.c.sym("+"), value(v, false, indent))
		}
		dels, adds = dels[:0], adds[:0]
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && same(bs[i], as[j]):
			flushRun()
			kept++
			i++
			j++
		case j < m && (i == n || l[i][j+1] >= l[i+1][j]):
			flushKept()
			adds = append(adds, as[j])
			j++
		default:
			flushKept()
			dels = append(dels, bs[i])
			i++
		}
	}
	flushRun()
	flushKept()
}

func isObject(v cty.Value) bool {
	return v.IsKnown() && !v.IsNull() && v.Type().IsObjectType()
}

func isSeq(v cty.Value) bool {
	t := v.Type()
	return !v.IsNull() && (t.IsListType() || t.IsTupleType())
}

func isMultiline(a, b cty.Value) bool {
	return a.Type() == cty.String && b.Type() == cty.String && a.IsKnown() && b.IsKnown() && !a.IsNull() && !b.IsNull() &&
		(strings.Contains(a.AsString(), "\n") || strings.Contains(b.AsString(), "\n"))
}

// diffContext is how many unchanged lines a line diff shows around a
// change.
const diffContext = 3

// lineDiff renders a line-by-line diff of two texts with go-diff, in
// unified-style hunks: the changed lines and diffContext unchanged lines
// around them. When lines are left out, each hunk starts with a
// "@@ -l,n +l,n @@" header giving its lines in the old and the new text.
func lineDiff(a, b string, indent int, c Colors) string {
	dmp := diffmatchpatch.New()
	ca, cb, lines := dmp.DiffLinesToChars(a, b)
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(ca, cb, false), lines)
	type op struct {
		typ   diffmatchpatch.Operation
		line  string
		noEOL bool // the text's last line, without a newline
	}
	// When only one text ends with a newline, its last line differs from
	// the other's by that alone: say so, as diff -u does, rather than show
	// the same line removed and added.
	markEOL := a != "" && b != "" && strings.HasSuffix(a, "\n") != strings.HasSuffix(b, "\n")
	var ops []op
	for _, d := range diffs {
		for _, line := range strings.SplitAfter(d.Text, "\n") {
			if line != "" {
				ops = append(ops, op{d.Type, strings.TrimSuffix(line, "\n"), markEOL && !strings.HasSuffix(line, "\n")})
			}
		}
	}
	// shown[i]: op i is a change or within diffContext of one.
	shown := make([]bool, len(ops))
	hidden := false
	last := -diffContext - 1 // the last change seen
	for i := range ops {
		if ops[i].typ != diffmatchpatch.DiffEqual {
			last = i
		}
		shown[i] = i-last <= diffContext
	}
	last = len(ops) + diffContext + 1
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].typ != diffmatchpatch.DiffEqual {
			last = i
		}
		shown[i] = shown[i] || last-i <= diffContext
		hidden = hidden || !shown[i]
	}
	var out strings.Builder
	pad := strings.Repeat(" ", indent-2)
	oldLine, newLine := 1, 1
	for i := 0; i < len(ops); {
		if !shown[i] {
			oldLine++
			newLine++
			i++
			continue
		}
		j := i
		oldN, newN := 0, 0
		for ; j < len(ops) && shown[j]; j++ {
			if ops[j].typ != diffmatchpatch.DiffInsert {
				oldN++
			}
			if ops[j].typ != diffmatchpatch.DiffDelete {
				newN++
			}
		}
		if hidden {
			fmt.Fprintf(&out, "%s  %s\n", pad, c.wrap("36", fmt.Sprintf("@@ -%s +%s @@", hunkRange(oldLine, oldN), hunkRange(newLine, newN))))
		}
		for _, o := range ops[i:j] {
			sym := " "
			switch o.typ {
			case diffmatchpatch.DiffInsert:
				sym = "+"
			case diffmatchpatch.DiffDelete:
				sym = "-"
			}
			fmt.Fprintf(&out, "%s%s %s\n", pad, c.sym(sym), o.line)
			if o.noEOL {
				fmt.Fprintf(&out, "%s  \\ No newline at end of file\n", pad)
			}
		}
		oldLine, newLine = oldLine+oldN, newLine+newN
		i = j
	}
	return out.String()
}

// hunkRange is a hunk's lines as unified diffs write them: the first line
// and the count, the line before the hunk when it has none.
func hunkRange(start, n int) string {
	if n == 0 {
		start--
	}
	return fmt.Sprintf("%d,%d", start, n)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// same compares for display: unknown equals nothing.
func same(a, b cty.Value) bool {
	if !a.IsWhollyKnown() || !b.IsWhollyKnown() {
		return false
	}
	if a.IsNull() || b.IsNull() {
		return a.IsNull() && b.IsNull()
	}
	return a.RawEquals(b) || a.Equals(b).True()
}

// value renders a value in HCL syntax.
func value(v cty.Value, sensitive bool, indent int) string {
	if sensitive {
		return "(sensitive value)"
	}
	if !v.IsKnown() {
		return "(known after apply)"
	}
	if v.IsNull() {
		return "null"
	}
	t := v.Type()
	switch {
	case t == cty.String:
		s := v.AsString()
		if strings.Contains(s, "\n") {
			pad := strings.Repeat(" ", indent+2)
			return "<<-EOT\n" + pad + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pad) + "\n" + strings.Repeat(" ", indent) + "EOT"
		}
		return strconv.Quote(s)
	case t == cty.Number:
		return formatNumber(v.AsBigFloat())
	case t == cty.Bool:
		return strconv.FormatBool(v.True())
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		if v.LengthInt() == 0 {
			return "[]"
		}
		var parts []string
		simple := true
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if ev.IsKnown() && !ev.IsNull() && !ev.Type().IsPrimitiveType() {
				simple = false
			}
			parts = append(parts, value(ev, false, indent+4))
		}
		if simple {
			return "[" + strings.Join(parts, ", ") + "]"
		}
		pad := strings.Repeat(" ", indent+4)
		return "[\n" + pad + strings.Join(parts, ",\n"+pad) + ",\n" + strings.Repeat(" ", indent) + "]"
	case t.IsMapType() || t.IsObjectType():
		if v.LengthInt() == 0 {
			return "{}"
		}
		var keys []string
		var vals []cty.Value
		if t.IsObjectType() {
			// An object's attributes straight from its type, in order.
			for _, k := range sortedAttrs(v) {
				ev := v.GetAttr(k)
				if ev.IsKnown() && ev.IsNull() {
					continue
				}
				keys = append(keys, k)
				vals = append(vals, ev)
			}
		} else {
			byKey := map[string]cty.Value{}
			for it := v.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				keys = append(keys, k.AsString())
				byKey[k.AsString()] = ev
			}
			sort.Strings(keys)
			for _, k := range keys {
				vals = append(vals, byKey[k])
			}
		}
		wd := width(keys)
		pad := strings.Repeat(" ", indent+4)
		var b strings.Builder
		b.WriteString("{\n")
		for i, k := range keys {
			name := k
			if t.IsMapType() {
				name = strconv.Quote(k)
			}
			// As fmt's "%s%-*s = %s\n" writes it.
			b.WriteString(pad)
			b.WriteString(name)
			for n := wd - utf8.RuneCountInString(name); n > 0; n-- {
				b.WriteByte(' ')
			}
			b.WriteString(" = ")
			b.WriteString(value(vals[i], false, indent+4))
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat(" ", indent) + "}")
		return b.String()
	}
	return v.GoString()
}

func formatNumber(f *big.Float) string {
	if i, acc := f.Int64(); acc == big.Exact {
		return strconv.FormatInt(i, 10)
	}
	if f.IsInt() {
		i, _ := f.Int(nil)
		return i.String()
	}
	return f.Text('g', -1)
}

// Value renders a value for output and state show.
func Value(v cty.Value, sensitive bool) string { return value(v, sensitive, 0) }
