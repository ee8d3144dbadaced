package checks

import (
	"context"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Default timeouts of one attempt of a probe.
const (
	DefaultPingTimeout = 2 * time.Second // after the last echo request
	DefaultTCPTimeout  = 3 * time.Second
	DefaultExecTimeout = 10 * time.Second
	DefaultPingCount   = 3
	// retryPause is the pause between two attempts within a retry window.
	retryPause = time.Second
	// parallel is how many checks run at once.
	parallel = 16
)

// ExecFunc runs argv on the node at address (a container) and returns its
// output (stdout and stderr together) and exit status; err is set when
// the command could not be run at all.
type ExecFunc func(ctx context.Context, address string, argv []string, timeout time.Duration) (output []byte, exitCode int, err error)

// Env is what the checks run against.
type Env struct {
	Desired *config.Desired
	// Current gives an instance's value as the state now has it.
	Current func(addr.Instance) (cty.Value, bool)
	Exec    ExecFunc
	// Probers gives, for a node on another host, what probes from its
	// network namespace there (nil: the node is on this machine).
	Probers func(node string) providers.NetnsProber
}

// prober is where probes from node run: on its host, or here.
func (env Env) prober(node string) providers.NetnsProber {
	if env.Probers != nil {
		if p := env.Probers(node); p != nil {
			return p
		}
	}
	return labnet.LocalProber{}
}

func (env Env) ping(ctx context.Context, node, ns string, ip net.IP, count int, timeout time.Duration) (labnet.PingResult, error) {
	sent, received, note, err := env.prober(node).PingFrom(ctx, ns, ip, count, timeout)
	return labnet.PingResult{Sent: sent, Received: received, Note: note}, err
}

func (env Env) dialTCP(ctx context.Context, node, ns, host string, port int, timeout time.Duration) (string, error) {
	return env.prober(node).DialFrom(ctx, ns, host, port, timeout)
}

// ProbeResult is the outcome of one probe of a check.
type ProbeResult struct {
	Kind     string        `json:"kind"`
	What     string        `json:"what"`     // e.g. ping container.pc["PC1"] -> 192.168.13.2, expect reply
	Observed string        `json:"observed"` // what the last attempt saw
	Passed   bool          `json:"passed"`
	Attempts int           `json:"attempts"`
	Duration time.Duration `json:"duration_ns"`
	Range    hcl.Range     `json:"-"`
}

// Result is the outcome of one check.
type Result struct {
	Name     string        `json:"name"`
	Passed   bool          `json:"passed"`
	Probes   []ProbeResult `json:"probes"`
	Duration time.Duration `json:"duration_ns"`
	// Message says, for a failed check, what failed.
	Message string    `json:"message,omitempty"`
	Range   hcl.Range `json:"-"`
}

// Location is where the check is declared, file:line.
func (r Result) Location() string {
	return fmt.Sprintf("%s:%d", r.Range.Filename, r.Range.Start.Line)
}

// Select returns the names of the checks to run: all of them, in
// declaration order, or those named in only, which must exist.
func Select(l *config.Lab, only []string) ([]string, error) {
	if len(only) == 0 {
		return append([]string(nil), l.CheckOrder...), nil
	}
	want := map[string]bool{}
	for _, n := range only {
		if _, ok := l.Checks[n]; !ok {
			names := l.CheckOrder
			if len(names) == 0 {
				return nil, fmt.Errorf("-only %s: the lab has no check blocks", n)
			}
			return nil, fmt.Errorf("-only %s: the lab has no check of that name; its checks are %s", n, strings.Join(names, ", "))
		}
		want[n] = true
	}
	var out []string
	for _, n := range l.CheckOrder {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Run runs the named checks, in parallel, and returns their results in
// the order of names.
func Run(ctx context.Context, env Env, names []string) []Result {
	out := make([]Result, len(names))
	par.Limit(len(names), parallel, func(i int) {
		out[i] = runCheck(ctx, env, env.Desired.Lab.Checks[names[i]])
	})
	return out
}

func runCheck(ctx context.Context, env Env, c *config.Check) Result {
	start := time.Now()
	r := Result{Name: c.Name, Passed: true, Range: c.DeclRange}
	r.Range.Filename = relName(env.Desired.Lab.Dir, r.Range.Filename)
	for _, p := range c.Probes {
		pr := runProbe(ctx, env, p)
		r.Probes = append(r.Probes, pr)
		if !pr.Passed {
			r.Passed = false
			if r.Message == "" {
				r.Message = fmt.Sprintf("%s: %s", pr.What, pr.Observed)
			}
		}
	}
	r.Duration = time.Since(start)
	return r
}

// probe is a probe's arguments, evaluated.
type probe struct {
	kind      string
	node      string // from / on: the node's address
	netns     string // from: its network namespace
	to        net.IP
	toText    string
	port      int
	count     int
	expect    string
	argv      []string
	output    *regexp.Regexp
	exitCode  int
	timeout   time.Duration
	retry     time.Duration
	condition bool
	message   string
}

func runProbe(ctx context.Context, env Env, p *config.Probe) ProbeResult {
	start := time.Now()
	res := ProbeResult{Kind: p.Kind, What: p.Kind, Range: p.DeclRange}
	var deadline time.Time
	for {
		pb, err := evalProbe(env, p)
		if pb != nil {
			res.What = describe(pb)
			if deadline.IsZero() {
				deadline = start.Add(pb.retry)
			}
		}
		res.Attempts++
		if err != nil {
			res.Observed = err.Error()
		} else {
			res.Passed, res.Observed = attempt(ctx, env, pb)
		}
		if res.Passed || time.Now().Add(retryPause).After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(retryPause):
		case <-ctx.Done():
		}
	}
	res.Duration = time.Since(start)
	return res
}

func describe(pb *probe) string {
	switch pb.kind {
	case "ping":
		return fmt.Sprintf("ping %s -> %s, expect %s", pb.node, pb.toText, pb.expect)
	case "tcp":
		return fmt.Sprintf("tcp %s -> %s, expect %s", pb.node, net.JoinHostPort(pb.toText, fmt.Sprint(pb.port)), pb.expect)
	case "exec":
		s := fmt.Sprintf("exec on %s: %s", pb.node, strings.Join(pb.argv, " "))
		if pb.output != nil {
			s += fmt.Sprintf(", output matching %q", pb.output.String())
		}
		return s
	}
	return "assert"
}

// attempt runs a probe once; it returns whether it passed and what it saw.
func attempt(ctx context.Context, env Env, pb *probe) (bool, string) {
	switch pb.kind {
	case "ping":
		r, err := env.ping(ctx, pb.node, pb.netns, pb.to, pb.count, pb.timeout)
		if err != nil {
			return false, err.Error()
		}
		got := "no-reply"
		if r.Received > 0 {
			got = "reply"
		}
		return got == pb.expect, got + ": " + r.String()
	case "tcp":
		got, err := env.dialTCP(ctx, pb.node, pb.netns, pb.toText, pb.port, pb.timeout)
		if err != nil {
			return false, err.Error()
		}
		return got == pb.expect, got
	case "exec":
		if env.Exec == nil {
			return false, "exec probes are not available here"
		}
		out, code, err := env.Exec(ctx, pb.node, pb.argv, pb.timeout)
		if err != nil {
			return false, err.Error()
		}
		seen := fmt.Sprintf("exit status %d, output: %s", code, lastLines(string(out), 10))
		if code != pb.exitCode {
			return false, fmt.Sprintf("exit status %d, expected %d; output: %s", code, pb.exitCode, lastLines(string(out), 10))
		}
		if pb.output != nil && !pb.output.Match(out) {
			return false, fmt.Sprintf("the output does not match %q: %s", pb.output.String(), lastLines(string(out), 10))
		}
		return true, seen
	case "assert":
		if !pb.condition {
			return false, pb.message
		}
		return true, "condition holds"
	}
	return false, "unknown probe " + pb.kind
}

// lastLines is the end of a command's output, on one line for a table.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "(none)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, " | ")
}

// evalProbe evaluates a probe's arguments against the state as it now is.
func evalProbe(env Env, p *config.Probe) (*probe, error) {
	ctx := env.Desired.ProbeContext(p.Exprs(), env.Current)
	dir := env.Desired.Lab.Dir
	pb := &probe{kind: p.Kind, count: DefaultPingCount, exitCode: 0}
	switch p.Kind {
	case "ping":
		pb.expect, pb.timeout = config.PingExpect[0], DefaultPingTimeout
	case "tcp":
		pb.expect, pb.timeout = config.TCPExpect[0], DefaultTCPTimeout
	case "exec":
		pb.timeout = DefaultExecTimeout
	}
	var errs []string
	for _, name := range slices.Sorted(maps.Keys(p.Attrs)) {
		a := p.Attrs[name]
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs = append(errs, fmt.Sprintf("%s: %s: %s", rangeText(dir, a.Expr.Range()), d.Summary, d.Detail))
				}
			}
			continue
		}
		v, _ = v.UnmarkDeep()
		if name == "from" || name == "on" {
			// A node not applied yet has unknown computed attributes;
			// setNode says so.
			if err := pb.setNode(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %s", rangeText(dir, a.Expr.Range()), err))
			}
			continue
		}
		if !v.IsWhollyKnown() {
			errs = append(errs, fmt.Sprintf("%s: %s is not known: what it refers to has not been applied", rangeText(dir, a.Expr.Range()), name))
			continue
		}
		if name != "from" && name != "on" && name != "condition" && name != "error_message" {
			if msg := config.CheckProbeArg(p.Kind, name, v); msg != "" {
				errs = append(errs, fmt.Sprintf("%s: %s", rangeText(dir, a.Expr.Range()), msg))
				continue
			}
		}
		if err := pb.set(name, v); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s", rangeText(dir, a.Expr.Range()), err))
		}
	}
	if len(errs) > 0 {
		return pb, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return pb, nil
}

func (pb *probe) set(name string, v cty.Value) error {
	str := func() string {
		s, _ := convert.Convert(v, cty.String)
		return s.AsString()
	}
	num := func() int {
		n, _ := convert.Convert(v, cty.Number)
		i, _ := n.AsBigFloat().Int64()
		return int(i)
	}
	dur := func() time.Duration {
		d, _ := config.ParseDuration(str())
		return d
	}
	switch name {
	case "from", "on":
		return pb.setNode(v)
	case "to":
		return pb.setTo(v)
	case "port":
		pb.port = num()
	case "count":
		pb.count = num()
	case "exit_code":
		pb.exitCode = num()
	case "expect":
		pb.expect = str()
	case "output":
		pb.output = regexp.MustCompile(str()) // CheckProbeArg compiled it
	case "command":
		pb.argv, _ = config.ArgvArg(v)
	case "timeout":
		pb.timeout = dur()
	case "retry":
		pb.retry = dur()
	case "condition":
		b, err := convert.Convert(v, cty.Bool)
		if err != nil || b.IsNull() {
			return fmt.Errorf("condition is true or false, not %s", v.Type().FriendlyName())
		}
		pb.condition = b.True()
	case "error_message":
		s, err := convert.Convert(v, cty.String)
		if err != nil || s.IsNull() {
			return fmt.Errorf("error_message is a string")
		}
		pb.message = s.AsString()
	}
	return nil
}

// setNode takes from or on: a node's value (its address, and for from its
// network namespace).
func (pb *probe) setNode(v cty.Value) error {
	if !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute("address") {
		return fmt.Errorf("a probe runs from or on one node; this is %s (a resource with count or for_each needs an index: container.pc[\"PC1\"])", v.Type().FriendlyName())
	}
	pb.node = v.GetAttr("address").AsString()
	if pb.kind == "exec" {
		return nil
	}
	if !v.Type().HasAttribute("netns") {
		return fmt.Errorf("%s has no network namespace to probe from", pb.node)
	}
	ns := v.GetAttr("netns")
	if !ns.IsKnown() || ns.IsNull() {
		return fmt.Errorf("%s has no network namespace: it is not created (run apply)", pb.node)
	}
	pb.netns = ns.AsString()
	return nil
}

// setTo takes an IP address, or a node, whose first address (by interface
// name) is the target.
func (pb *probe) setTo(v cty.Value) error {
	if !v.Type().IsObjectType() {
		pb.toText = v.AsString()
		pb.to = net.ParseIP(pb.toText)
		return nil
	}
	node := "the node"
	if v.Type().HasAttribute("address") {
		node = v.GetAttr("address").AsString()
	}
	if !v.Type().HasAttribute("addresses") || v.GetAttr("addresses").IsNull() {
		return fmt.Errorf("%s has no addresses to probe; give to an IP address", node)
	}
	m := v.GetAttr("addresses").AsValueMap()
	ifaces := make([]string, 0, len(m))
	for k := range m {
		ifaces = append(ifaces, k)
	}
	sort.Strings(ifaces)
	for _, ifc := range ifaces {
		l := m[ifc]
		if l.IsNull() || l.LengthInt() == 0 {
			continue
		}
		cidr := l.Index(cty.NumberIntVal(0)).AsString()
		ip, _, err := net.ParseCIDR(cidr)
		if err != nil {
			ip = net.ParseIP(cidr)
		}
		if ip != nil {
			pb.to, pb.toText = ip, ip.String()
			return nil
		}
	}
	return fmt.Errorf("%s has no addresses to probe; give to an IP address", node)
}

func rangeText(dir string, r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", relName(dir, r.Filename), r.Start.Line, r.Start.Column)
}

// relName is a file name relative to the lab's directory dir, as a user
// reads it.
func relName(dir, name string) string {
	if rel, err := filepath.Rel(dir, name); err == nil && dir != "" && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return name
}
