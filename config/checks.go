package config

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Check is a top-level check block: probes run against the live lab after
// every apply and by labform test. It passes when every probe passes.
type Check struct {
	Name      string
	Probes    []*Probe
	DeclRange hcl.Range
}

// Probe is one ping, tcp, exec or assert block of a check, or one
// condition of a ready block (kind tcp, console or exec).
type Probe struct {
	Kind      string
	Attrs     hcl.Attributes
	DeclRange hcl.Range
}

// Ready is a vm's or container's ready block: conditions that must all
// hold before the node counts as created.
type Ready struct {
	Attrs     hcl.Attributes
	DeclRange hcl.Range
}

// ProbeKinds are the blocks a check holds.
var ProbeKinds = []string{"ping", "tcp", "exec", "assert"}

// Expectations of the probes that have an expect argument, the first the
// default.
var (
	PingExpect = []string{"reply", "no-reply"}
	TCPExpect  = []string{"open", "refused", "dropped"}
)

var probeSchemas = map[string]*hcl.BodySchema{
	"ping": {Attributes: []hcl.AttributeSchema{{Name: "from", Required: true}, {Name: "to", Required: true},
		{Name: "count"}, {Name: "expect"}, {Name: "timeout"}, {Name: "retry"}}},
	"tcp": {Attributes: []hcl.AttributeSchema{{Name: "from", Required: true}, {Name: "to", Required: true},
		{Name: "port", Required: true}, {Name: "expect"}, {Name: "timeout"}, {Name: "retry"}}},
	"exec": {Attributes: []hcl.AttributeSchema{{Name: "on", Required: true}, {Name: "command", Required: true},
		{Name: "output"}, {Name: "exit_code"}, {Name: "timeout"}, {Name: "retry"}}},
	"assert": {Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}}},
}

var checkSchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, k := range ProbeKinds {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k})
	}
	return s
}()

var readySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "tcp"}, {Name: "console"}, {Name: "exec"}, {Name: "timeout"}, {Name: "interval"},
}}

// ReadyTypes are the resource types that take a ready block.
var ReadyTypes = []string{"vm", "container"}

func (l *Lab) decodeCheck(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	diags := checkName("check", name, b.LabelRanges[0])
	if prev, dup := l.Checks[name]; dup {
		return append(diags, duplicate("check", name, b.DefRange, prev.DeclRange))
	}
	content, d := b.Body.Content(checkSchema)
	diags = append(diags, d...)
	c := &Check{Name: name, DeclRange: b.DefRange}
	for _, pb := range content.Blocks {
		// A probe with errors is kept, so that its references are
		// checked too; the lab does not run with errors anyway.
		pc, d := pb.Body.Content(probeSchemas[pb.Type])
		diags = append(diags, d...)
		p := &Probe{Kind: pb.Type, Attrs: pc.Attributes, DeclRange: pb.DefRange}
		diags = append(diags, checkProbeConstants(p)...)
		c.Probes = append(c.Probes, p)
	}
	if len(content.Blocks) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty check",
			Detail: "A check holds at least one ping, tcp, exec or assert block.", Subject: b.DefRange.Ptr()})
	}
	l.Checks[name] = c
	l.CheckOrder = append(l.CheckOrder, name)
	return diags
}

// decodeReady reads a resource's ready block (taken out of its body before
// the provider's schema sees it).
func decodeReady(b *hcl.Block, typ string) (*Ready, hcl.Diagnostics) {
	if !contains(ReadyTypes, typ) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported block type",
			Detail: fmt.Sprintf("A ready block belongs to a vm or a container, not to a %s.", typ), Subject: b.DefRange.Ptr()}}
	}
	content, diags := b.Body.Content(readySchema)
	r := &Ready{Attrs: content.Attributes, DeclRange: b.DefRange}
	if _, ok := content.Attributes["tcp"]; !ok {
		if _, ok := content.Attributes["console"]; !ok {
			if _, ok := content.Attributes["exec"]; !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty ready block",
					Detail: "A ready block has at least one condition: tcp, console or exec.", Subject: b.DefRange.Ptr()})
			}
		}
	}
	names := sortedAttrNames(content.Attributes)
	sort.SliceStable(names, func(i, j int) bool {
		return content.Attributes[names[i]].Range.Start.Byte < content.Attributes[names[j]].Range.Start.Byte
	})
	for _, name := range names {
		a := content.Attributes[name]
		if len(a.Expr.Variables()) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ready condition",
				Detail: "A ready block's arguments are constants: it is read before anything else about the node is known.", Subject: a.Expr.Range().Ptr()})
			continue
		}
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if msg := CheckReadyArg(typ, name, v); msg != "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for " + name, Detail: msg, Subject: a.Expr.Range().Ptr()})
		}
	}
	return r, diags
}

// CheckReadyArg checks one argument of a ready block of a resource of type
// typ; it returns what is wrong, or "".
func CheckReadyArg(typ, name string, v cty.Value) string {
	switch name {
	case "tcp":
		s, msg := stringArg(v)
		if msg != "" {
			return "tcp is " + msg
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || net.ParseIP(host) == nil {
			return fmt.Sprintf("tcp is ADDRESS:PORT, an IP address and a port (\"10.0.0.1:179\", \"[fd00::1]:22\"); %q is not.", s)
		}
		return CheckPort(port)
	case "console":
		s, msg := stringArg(v)
		if msg != "" {
			return "console is " + msg
		}
		return CheckRegexp(s)
	case "exec":
		argv, msg := ArgvArg(v)
		if msg != "" {
			return "exec is " + msg
		}
		if typ == "vm" {
			return "exec readiness needs a guest agent, which labform's VMs do not have; use console or tcp for a vm."
		}
		_ = argv
	case "timeout", "interval":
		s, msg := stringArg(v)
		if msg != "" {
			return name + " is " + msg
		}
		_, msg = ParseDuration(s)
		return msg
	}
	return ""
}

func stringArg(v cty.Value) (string, string) {
	v, _ = v.Unmark()
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() || !s.IsKnown() {
		return "", "a string"
	}
	return s.AsString(), ""
}

// ArgvArg turns a list of strings into an argv; the second result says
// what is wrong.
func ArgvArg(v cty.Value) ([]string, string) {
	v, _ = v.UnmarkDeep()
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || l.IsNull() || !l.IsWhollyKnown() || l.LengthInt() == 0 {
		return nil, "a non-empty list of strings, the command and its arguments ([\"vtysh\", \"-c\", \"show version\"])."
	}
	var argv []string
	for _, s := range l.AsValueSlice() {
		if s.IsNull() {
			return nil, "a list of strings without nulls."
		}
		argv = append(argv, s.AsString())
	}
	return argv, ""
}

// ParseDuration reads a Go duration ("30s", "2m"), positive.
func ParseDuration(s string) (time.Duration, string) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Sprintf("%q is not a duration; write a positive number with a unit: \"500ms\", \"30s\", \"2m\".", s)
	}
	return d, ""
}

// CheckRegexp says what is wrong with a regular expression, or "".
func CheckRegexp(s string) string {
	if _, err := regexp.Compile(s); err != nil {
		return fmt.Sprintf("%q is not a regular expression (Go RE2 syntax): %s.", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return ""
}

// CheckPort says what is wrong with a TCP port, or "".
func CheckPort(s string) string {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || fmt.Sprint(n) != s || n < 1 || n > 65535 {
		return fmt.Sprintf("the port is a number from 1 to 65535; %s is not.", s)
	}
	return ""
}

// checkProbeConstants checks what a probe's constant arguments can tell at
// load time; the rest is checked when the check runs.
func checkProbeConstants(p *Probe) hcl.Diagnostics {
	var diags hcl.Diagnostics
	names := sortedAttrNames(p.Attrs)
	sort.SliceStable(names, func(i, j int) bool { return p.Attrs[names[i]].Range.Start.Byte < p.Attrs[names[j]].Range.Start.Byte })
	for _, name := range names {
		a := p.Attrs[name]
		if name == "from" || name == "on" {
			diags = append(diags, checkNodeRef(p, a)...)
			continue
		}
		if len(a.Expr.Variables()) > 0 || name == "condition" || name == "error_message" {
			continue
		}
		v, d := a.Expr.Value(&hcl.EvalContext{Functions: Functions})
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if msg := CheckProbeArg(p.Kind, name, v); msg != "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for " + name, Detail: msg, Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

// checkNodeRef checks that from or on names a node: a resource of the lab
// (checked with the other references by Check) or lab itself.
func checkNodeRef(p *Probe, a *hcl.Attribute) hcl.Diagnostics {
	tr, d := hcl.AbsTraversalForExpr(a.Expr)
	what := "a container (from = container.pc[\"PC1\"], or a module's output that is one: from = module.pod[0].spine) or the lab's own namespace (from = lab)"
	if p.Kind == "exec" {
		what = "a container (on = container.router[\"r1\"])"
	}
	bad := d.HasErrors()
	if !bad {
		root := tr.RootName()
		switch {
		case root == "lab" && p.Kind != "exec" && len(tr) == 1:
		case root == "container":
		case root == "module" && len(tr) > 2:
			// A module's output that is a container (module.pod[0].spine),
			// checked when the probe runs.
		case root == "vm":
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid node for " + a.Name,
				Detail: "Probes run from a network namespace or through runc exec; a vm has neither. Run the probe " + map[bool]string{true: "on", false: "from"}[p.Kind == "exec"] + " a container, or probe the vm from one.", Subject: a.Expr.Range().Ptr()}}
		default:
			bad = true
		}
	}
	if bad {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid node for " + a.Name,
			Detail: fmt.Sprintf("%s is a reference to %s.", a.Name, what), Subject: a.Expr.Range().Ptr()}}
	}
	return nil
}

// CheckProbeArg checks one argument of a probe of kind; it returns what is
// wrong, or "". from, on, condition and error_message are checked
// elsewhere. to may be an object (a node), checked when it is resolved.
func CheckProbeArg(kind, name string, v cty.Value) string {
	v, _ = v.UnmarkDeep()
	switch name {
	case "to":
		if v.Type().IsObjectType() {
			return ""
		}
		s, msg := stringArg(v)
		if msg != "" {
			return "to is an IP address or a node, not " + v.Type().FriendlyName() + "."
		}
		if net.ParseIP(s) == nil {
			return fmt.Sprintf("to is an IP address (\"192.168.13.2\", \"fd00::2\") or a node (container.pc[\"PC3\"]); %q is neither.", s)
		}
	case "port":
		s, msg := stringArg(v)
		if msg != "" {
			return "port is a number."
		}
		return CheckPort(s)
	case "count":
		n, err := convert.Convert(v, cty.Number)
		if err != nil || n.IsNull() {
			return "count is a number."
		}
		if i, acc := n.AsBigFloat().Int64(); acc != 0 || i < 1 || i > 100 {
			return "count is a whole number from 1 to 100."
		}
	case "exit_code":
		n, err := convert.Convert(v, cty.Number)
		if err != nil || n.IsNull() {
			return "exit_code is a number."
		}
		if i, acc := n.AsBigFloat().Int64(); acc != 0 || i < 0 || i > 255 {
			return "exit_code is a whole number from 0 to 255."
		}
	case "expect":
		s, msg := stringArg(v)
		allowed := PingExpect
		if kind == "tcp" {
			allowed = TCPExpect
		}
		if msg != "" || !contains(allowed, s) {
			return fmt.Sprintf("A %s probe's expect is %s.%s", kind, orList(allowed), didYouMean(s, allowed))
		}
	case "output":
		s, msg := stringArg(v)
		if msg != "" {
			return "output is " + msg + ", a regular expression."
		}
		return CheckRegexp(s)
	case "command":
		_, msg := ArgvArg(v)
		if msg != "" {
			return "command is " + msg
		}
	case "timeout", "retry":
		s, msg := stringArg(v)
		if msg != "" {
			return name + " is " + msg + " duration."
		}
		_, msg = ParseDuration(s)
		return msg
	}
	return ""
}

// checkChecks checks the references of the check blocks; Check calls it.
func (l *Lab) checkChecks() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range l.CheckOrder {
		for _, p := range l.Checks[name].Probes {
			for _, an := range sortedAttrNames(p.Attrs) {
				diags = append(diags, l.checkExpr(p.Attrs[an].Expr, nil)...)
			}
		}
	}
	return diags
}

// ReadySpec is a ready block's conditions, read.
type ReadySpec struct {
	TCP      string         // ADDRESS:PORT, "" when not asked
	Console  *regexp.Regexp // nil when not asked
	Exec     []string       // nil when not asked
	Timeout  time.Duration
	Interval time.Duration
}

// Default timing of a ready block.
const (
	DefaultReadyTimeout  = 120 * time.Second
	DefaultReadyInterval = time.Second
)

// Spec reads the ready block; load checked every argument.
func (r *Ready) Spec() (ReadySpec, error) {
	s := ReadySpec{Timeout: DefaultReadyTimeout, Interval: DefaultReadyInterval}
	for _, name := range sortedAttrNames(r.Attrs) {
		v, diags := r.Attrs[name].Expr.Value(nil)
		if diags.HasErrors() {
			return s, diags
		}
		if msg := CheckReadyArg("container", name, v); msg != "" {
			return s, fmt.Errorf("%s: %s", r.Attrs[name].Expr.Range(), msg)
		}
		str, _ := stringArg(v)
		switch name {
		case "tcp":
			s.TCP = str
		case "console":
			s.Console = regexp.MustCompile(str)
		case "exec":
			s.Exec, _ = ArgvArg(v)
		case "timeout":
			s.Timeout, _ = ParseDuration(str)
		case "interval":
			s.Interval, _ = ParseDuration(str)
		}
	}
	return s, nil
}

// Conditions describes the conditions, for progress lines and errors.
func (s ReadySpec) Conditions() string {
	var parts []string
	if s.Console != nil {
		parts = append(parts, fmt.Sprintf("console %q", s.Console.String()))
	}
	if s.TCP != "" {
		parts = append(parts, "tcp "+s.TCP)
	}
	if s.Exec != nil {
		parts = append(parts, "exec "+strings.Join(s.Exec, " "))
	}
	return strings.Join(parts, ", ")
}
