package netfilter

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/zclconf/go-cty/cty"
)

func evalFile(t *testing.T, name string) (*config.Desired, hcl.Diagnostics) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../../testdata/netfilter", name))
	if err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRegistry()
	reg.Register(container.New())
	reg.Register(New())
	l := config.NewLab("/lab", reg)
	diags := l.AddFile(name, src)
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	if diags = append(diags, more...); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return d, planner.Validate(reg, d)
}

// TestRestoreGolden pins the iptables-restore input of allowlist and
// denylist chains in both families.
func TestRestoreGolden(t *testing.T) {
	d, diags := evalFile(t, "chains.lab.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var b bytes.Buffer
	for _, a := range d.Order {
		if a.Type != "firewall_chain" {
			continue
		}
		c, errs := ParseChain(a.Name, d.Instances[a].Value)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", a, errs)
		}
		for _, fam := range c.Families {
			fmt.Fprintf(&b, "# %s, %s\n%s\n", a, fam, c.Restore(fam, 65535, nil))
		}
	}
	golden.Check(t, "../../testdata/netfilter/restore.golden", b.Bytes())
}

// TestValidateChains: every value is checked before anything is rendered.
func TestValidateChains(t *testing.T) {
	src, _ := os.ReadFile("../../testdata/netfilter/invalid.lab.hcl")
	want := golden.Markers(src)
	_, diags := evalFile(t, "invalid.lab.hcl")
	got := map[int]string{}
	for _, d := range diags {
		if d.Subject != nil {
			got[d.Subject.Start.Line] = d.Summary
		}
	}
	golden.CheckLines(t, got, want)
}

// TestSystem_restoreReplacesAtomically feeds the rendered input to the
// real iptables-restore --noflush in a namespace of the test's own, twice:
// the second run replaces the chain as a whole and adds no second jump.
func TestSystem_restoreReplacesAtomically(t *testing.T) {
	systest.Require(t, "ip", "iptables-restore", "iptables-save")
	d, _ := evalFile(t, "chains.lab.hcl")
	var chain *Chain
	for _, a := range d.Order {
		if a.Name == "host_in" {
			chain, _ = ParseChain(a.Name, d.Instances[a].Value)
		}
	}
	ns := fmt.Sprintf("lfnf%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	restore := func(input string) {
		cmd := exec.Command("ip", "netns", "exec", ns, "iptables-restore", "--noflush")
		cmd.Stdin = strings.NewReader(input)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("iptables-restore: %v: %s\ninput:\n%s", err, out, input)
		}
	}
	save := func() string {
		out, err := exec.Command("ip", "netns", "exec", ns, "iptables-save", "-t", "filter").Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	before := save()
	restore(chain.Restore("ipv4", 65535, nil))
	first := save()
	if !strings.Contains(first, "-A INPUT -j host_in") || !strings.Contains(first, "--dport 22 -j ACCEPT") ||
		!strings.Contains(first, "-p ospf -j ACCEPT") || !strings.Contains(first, "-p vrrp -j ACCEPT") {
		t.Fatalf("the chain or its jump is missing:\n%s", first)
	}
	// Second apply: one rule fewer, and the jump already there.
	chain.Rules = chain.Rules[:1]
	restore(chain.Restore("ipv4", 65535, ParseSave(first).Table("filter")))
	second := save()
	if strings.Contains(second, "icmp-type 8") || strings.Count(second, "-A INPUT -j host_in") != 1 {
		t.Fatalf("the chain was not replaced as a whole, or the jump doubled:\n%s", second)
	}
	_ = before
}

// TestProtocols: iptables takes any name of /etc/protocols (through
// getprotobyname) and any number 0-255; an unknown name is refused with
// the nearest known one.
func TestProtocols(t *testing.T) {
	for p, ok := range map[string]bool{"tcp": true, "icmpv6": true, "ospf": true, "OSPFIGP": true, "vrrp": true, "pim": true,
		"0": true, "89": true, "255": true, "256": false, "-1": false, "089": false, "opsf": false, "tcp\n-A": false, "": false} {
		if got := validProtocol(p); got != ok {
			t.Errorf("validProtocol(%q) = %v, want %v", p, got, ok)
		}
	}
	if got := protocolSuggestion("opsf"); got != ` Did you mean "ospf"?` {
		t.Errorf("suggestion for opsf: %q", got)
	}
	if got := protocolSuggestion("zzzzzzzz"); got != "" {
		t.Errorf("suggestion for nonsense: %q", got)
	}
}

// BenchmarkParseRender10k: what apply does before its restore of a chain
// of 10,000 rules: read the planned value, render the restore input.
func BenchmarkParseRender10k(b *testing.B) {
	v := chainValue(10000, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, errs := ParseChain("big", v)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		if in := c.Restore("ipv4", 65535, nil); !strings.Contains(in, "--dport 29999 -j ACCEPT") {
			b.Fatal("the last rule is missing from the restore input")
		}
	}
}

// chainValue is a planned ipv4 denylist chain (target = lab, hooked from
// FORWARD) of n rules, rule i accepting tcp to port 20000+i; edit, when
// set, changes rule i's attributes.
func chainValue(n int, edit func(i int, rule map[string]cty.Value)) cty.Value {
	ty := New().Schemas()["firewall_chain"].ImpliedType()
	nulls := func(t cty.Type) map[string]cty.Value {
		m := map[string]cty.Value{}
		for n, at := range t.AttributeTypes() {
			m[n] = cty.NullVal(at)
		}
		return m
	}
	rules := make([]cty.Value, n)
	for i := range rules {
		m := nulls(ty.AttributeType("rule").ElementType())
		m["protocol"], m["dport"], m["action"] = cty.StringVal("tcp"), cty.StringVal(fmt.Sprint(20000+i)), cty.StringVal("accept")
		if edit != nil {
			edit(i, m)
		}
		rules[i] = cty.ObjectVal(m)
	}
	m := nulls(ty)
	m["target"], m["family"], m["table"], m["mode"] = cty.StringVal("lab"), cty.StringVal("ipv4"), cty.StringVal("filter"), cty.StringVal("denylist")
	m["hooks"], m["rule"] = cty.ListVal([]cty.Value{cty.StringVal("FORWARD")}), cty.ListValEmpty(ty.AttributeType("rule").ElementType())
	if n > 0 {
		m["rule"] = cty.ListVal(rules)
	}
	return cty.ObjectVal(m)
}

// TestSplitRule: words as iptables-save quotes them; plain words are
// taken as they are, quoted and escaped ones unquoted.
func TestSplitRule(t *testing.T) {
	for in, want := range map[string][]string{
		"-p tcp -m tcp --dport 22 -j ACCEPT":          {"-p", "tcp", "-m", "tcp", "--dport", "22", "-j", "ACCEPT"},
		`-m comment --comment "web server" -j ACCEPT`: {"-m", "comment", "--comment", "web server", "-j", "ACCEPT"},
		`--comment "a \"q\" b" -j DROP`:               {"--comment", `a "q" b`, "-j", "DROP"},
		`--comment "" -j DROP`:                        {"--comment", "", "-j", "DROP"},
		`a\ b c`:                                      {"a b", "c"},
		"  spaced   out  ":                            {"spaced", "out"},
		`x"y z"w v`:                                   {"xy zw", "v"},
		`ab\`:                                         {`ab\`},
		`--comment "it's" -j RETURN`:                  {"--comment", "it's", "-j", "RETURN"},
		"":                                            {},
		`-s 10.0.0.0/8 -m comment --comment a\\b -j DROP`: {"-s", "10.0.0.0/8", "-m", "comment", "--comment", `a\b`, "-j", "DROP"},
	} {
		if got := splitRule(in); strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("splitRule(%q)\ngot:  %q\nwant: %q", in, got, want)
		}
	}
}
