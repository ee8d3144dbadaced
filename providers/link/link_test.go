package link

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/labform/labform/internal/golden"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/zclconf/go-cty/cty"
)

// TestImpairmentQdiscs pins down the qdisc (and so the netlink request)
// each impairment becomes, for netem too, which this kernel cannot run.
func TestImpairmentQdiscs(t *testing.T) {
	cases := map[string]map[string]string{
		"rate":      {"rate": "8mbit"},
		"delay":     {"delay": "50ms"},
		"netem_all": {"delay": "5ms", "jitter": "1ms", "loss": "0.1%", "duplicate": "1%", "corrupt": "0.5%", "rate": "100mbit"},
		"none":      {},
	}
	got := map[string]interface{}{}
	for name, attrs := range cases {
		m := map[string]cty.Value{}
		for _, a := range []string{"delay", "jitter", "loss", "duplicate", "corrupt", "rate"} {
			m[a] = cty.NullVal(cty.String)
			if v, ok := attrs[a]; ok {
				m[a] = cty.StringVal(v)
			}
		}
		imp, errs := parseImpairment(cty.ObjectVal(m))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs)
		}
		q := imp.qdisc(7)
		got[name] = map[string]interface{}{"kind": kind(q), "qdisc": q}
	}
	b, _ := json.MarshalIndent(got, "", "  ")
	b = append(b, '\n')
	golden.Check(t, "../../testdata/link/qdiscs.golden.json", b)
}

func kind(q interface{ Type() string }) string {
	if q == nil {
		return "none"
	}
	return q.Type()
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]uint64{"8mbit": 1_000_000, "100kbit": 12_500, "1gbit": 125_000_000, "1mbps": 1_000_000, "800bit": 100} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "fast", "8 furlongs", "-1mbit", "0mbit"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) should fail", bad)
		}
	}
}

// TestValidateLinks: too few endpoints, a port in two links, a bad rate
// and a port a node does not have are validate-time errors on their line.
func TestValidateLinks(t *testing.T) {
	src, _ := os.ReadFile("../../testdata/link/invalid.lab.hcl")
	want := golden.Markers(src)
	reg := providers.NewRegistry()
	reg.Register(container.New())
	reg.Register(New())
	l := config.NewLab("/lab", reg)
	diags := l.AddFile("invalid.lab.hcl", src)
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	diags = append(diags, more...)
	if !more.HasErrors() {
		diags = append(diags, planner.Validate(reg, d)...)
	} else {
		// The out-of-range port stops evaluation; check the rest without it.
		diags = append(diags, validateWithout(t, reg, string(src), "badport")...)
	}
	got := map[int]string{}
	for _, dg := range diags {
		if dg.Severity == hcl.DiagError && dg.Subject != nil {
			got[dg.Subject.Start.Line] = dg.Summary
		}
	}
	golden.CheckLines(t, got, want)
}

func validateWithout(t *testing.T, reg *providers.Registry, src, drop string) hcl.Diagnostics {
	i := strings.Index(src, "link \""+drop+"\"")
	trimmed := src[:i] + strings.Repeat("\n", strings.Count(src[i:], "\n"))
	l := config.NewLab("/lab", reg)
	diags := l.AddFile("invalid.lab.hcl", []byte(trimmed))
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	if more.HasErrors() {
		t.Fatal(more.Error())
	}
	return append(diags, planner.Validate(reg, d)...)
}
