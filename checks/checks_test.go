package checks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/providers/all"
	"github.com/zclconf/go-cty/cty"
)

const probeLab = `
container "pc" {
  for_each = { PC1 = 1, PC2 = 2 }
  rootfs   = "rootfs"
  addresses = {
    eth1 = ["10.0.2.${each.value}/24"]
    eth0 = ["10.0.1.${each.value}/24"]
  }
}
check "count" {
  assert {
    condition     = length(container.pc) == 2
    error_message = "two PCs"
  }
}
check "count_wrong" {
  assert {
    condition     = length(container.pc) == 3
    error_message = "the lab has three PCs"
  }
}
check "daemon" {
  exec {
    on      = container.pc["PC2"]
    command = ["vtysh", "-c", "show ip ospf neighbor"]
    output  = "Full(.|\n)*Full"
  }
}
check "daemon_converges" {
  exec {
    on      = container.pc["PC1"]
    command = ["vtysh", "-c", "show ip ospf neighbor"]
    output  = "Full(.|\n)*Full"
    retry   = "5s"
  }
}
check "exit_code" {
  exec {
    on        = container.pc["PC1"]
    command   = ["false"]
    exit_code = 1
  }
}
check "not_created" {
  tcp {
    from = container.pc["PC2"]
    to   = container.pc["PC1"]
    port = 80
  }
}
`

// probeEnv evaluates probeLab; PC1 is applied (in current), PC2 not.
// exec answers "Full Full" on PC1 from its third call on, and "Init" on
// PC2.
func probeEnv(t *testing.T) (Env, *int) {
	t.Helper()
	l := config.NewLab(t.TempDir(), all.Registry())
	diags := l.AddFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(probeLab))
	diags = append(diags, l.Check()...)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, diags := config.Evaluate(l, config.NewInputs(), nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	pc1 := addr.Instance{Resource: addr.Resource{Type: "container", Name: "pc"}, Key: addr.Str("PC1")}
	calls := 0
	return Env{
		Desired: d,
		Current: func(a addr.Instance) (cty.Value, bool) {
			if a != pc1 {
				return cty.NilVal, false
			}
			m := d.Instances[a].Value.AsValueMap()
			m["netns"], m["pid"] = cty.StringVal("/var/run/netns/lfc-test"), cty.NumberIntVal(42)
			return cty.ObjectVal(m), true
		},
		Exec: func(_ context.Context, node string, argv []string, _ time.Duration) ([]byte, int, error) {
			switch {
			case argv[0] == "false":
				return nil, 1, nil
			case node == `container.pc["PC2"]`:
				return []byte("Neighbor ID  State\n1.1.1.1      Init\n"), 0, nil
			}
			calls++
			if calls < 3 {
				return []byte("Neighbor ID  State\n"), 0, nil
			}
			return []byte("1.1.1.1 Full/DR\n2.2.2.2 Full/BDR\n"), 0, nil
		},
	}, &calls
}

func TestRun_probes(t *testing.T) {
	env, calls := probeEnv(t)
	names, err := Select(env.Desired.Lab, nil)
	if err != nil {
		t.Fatal(err)
	}
	results := Run(context.Background(), env, names)
	want := map[string]struct {
		passed   bool
		observed string
	}{
		"count":            {true, "condition holds"},
		"count_wrong":      {false, "the lab has three PCs"},
		"daemon":           {false, `the output does not match "Full(.|\n)*Full": Neighbor ID  State | 1.1.1.1      Init`},
		"daemon_converges": {true, "exit status 0, output: 1.1.1.1 Full/DR | 2.2.2.2 Full/BDR"},
		"exit_code":        {true, "exit status 1, output: (none)"},
		"not_created":      {false, `container.pc["PC2"] has no network namespace: it is not created (run apply)`},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, r := range results {
		if r.Name != names[i] {
			t.Errorf("result %d is %s, want %s (results keep the checks' order)", i, r.Name, names[i])
		}
		w := want[r.Name]
		if r.Passed != w.passed || len(r.Probes) != 1 || !strings.Contains(r.Probes[0].Observed, w.observed) {
			t.Errorf("%s: passed %v, probes %+v; want passed %v, observed %q", r.Name, r.Passed, r.Probes, w.passed, w.observed)
		}
		if r.Range.Filename != "main.lab.hcl" {
			t.Errorf("%s: file %q, want main.lab.hcl (relative to the lab)", r.Name, r.Range.Filename)
		}
	}
	if *calls != 3 {
		t.Errorf("the converging exec ran %d times, want 3 (retried until its output matched)", *calls)
	}
	if r := results[1]; r.Message != "assert: the lab has three PCs" {
		t.Errorf("count_wrong's message: %q", r.Message)
	}
}

func TestSetTo(t *testing.T) {
	node := func(addrs map[string]cty.Value) cty.Value {
		a := cty.NullVal(cty.Map(cty.List(cty.String)))
		if addrs != nil {
			a = cty.MapVal(addrs)
		}
		return cty.ObjectVal(map[string]cty.Value{"address": cty.StringVal("container.x"), "addresses": a})
	}
	list := func(s ...string) cty.Value {
		var vs []cty.Value
		for _, x := range s {
			vs = append(vs, cty.StringVal(x))
		}
		if len(vs) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		return cty.ListVal(vs)
	}
	for _, c := range []struct {
		v       cty.Value
		want    string
		wantErr string
	}{
		{cty.StringVal("192.168.13.2"), "192.168.13.2", ""},
		{node(map[string]cty.Value{"eth1": list("10.0.2.1/24"), "eth0": list("10.0.1.1/24", "10.0.9.1/24")}), "10.0.1.1", ""},
		{node(map[string]cty.Value{"eth0": list(), "eth1": list("fd00::2/64")}), "fd00::2", ""},
		{node(nil), "", "container.x has no addresses to probe; give to an IP address"},
	} {
		pb := &probe{}
		err := pb.setTo(c.v)
		if fmt.Sprint(err) != fmt.Sprint(errOrNil(c.wantErr)) || pb.toText != c.want {
			t.Errorf("setTo(%#v) = %q, %v; want %q, %q", c.v, pb.toText, err, c.want, c.wantErr)
		}
	}
}

func errOrNil(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

func TestSelect(t *testing.T) {
	env, _ := probeEnv(t)
	got, err := Select(env.Desired.Lab, []string{"exit_code", "count"})
	if err != nil || strings.Join(got, ",") != "count,exit_code" {
		t.Errorf("Select = %v, %v; want count,exit_code in declaration order", got, err)
	}
	if _, err := Select(env.Desired.Lab, []string{"nosuch"}); err == nil || !strings.Contains(err.Error(), "its checks are count, count_wrong, daemon") {
		t.Errorf("Select(nosuch) = %v", err)
	}
}

func TestWriteJUnit(t *testing.T) {
	rng := hcl.Range{Filename: "main.lab.hcl", Start: hcl.Pos{Line: 12}}
	rs := []Result{
		{Name: "pc1_reaches_pc3", Passed: true, Duration: 612 * time.Millisecond, Range: rng,
			Probes: []ProbeResult{{Kind: "ping", What: `ping container.pc["PC1"] -> 192.168.13.2, expect reply`, Observed: "reply: 3/3 replies", Passed: true, Attempts: 1, Duration: 612 * time.Millisecond}}},
		{Name: "ssh_blocked", Passed: false, Duration: 3 * time.Second, Range: rng, Message: `tcp container.pc["PC1"] -> 192.168.11.1:22, expect dropped: refused <RST>`,
			Probes: []ProbeResult{{Kind: "tcp", What: `tcp container.pc["PC1"] -> 192.168.11.1:22, expect dropped`, Observed: "refused <RST>", Attempts: 2, Duration: 3 * time.Second}}},
	}
	path := filepath.Join(t.TempDir(), "out", "checks.xml")
	if err := WriteJUnit(path, "campus", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), rs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "../testdata/checks/junit.golden.xml", b)
	var table strings.Builder
	WriteTable(&table, rs, nil)
	golden.Check(t, "../testdata/checks/table.golden", []byte(table.String()))
}
