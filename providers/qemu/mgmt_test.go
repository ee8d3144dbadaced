package qemu

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/mgmtnet"
)

// TestArgvGolden_management pins the command lines of VMs on a management
// network (testdata/qemu/mgmt.lab.hcl): one more tap NIC after the
// adapters, its MAC the next of the adapters'. A VM without a management
// address (here: one the planner has not assigned) gets no such NIC.
func TestArgvGolden_management(t *testing.T) {
	src, err := os.ReadFile("../../testdata/qemu/mgmt.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	p := New()
	reg := providers.NewRegistry()
	reg.Register(p)
	reg.Register(mgmtnet.New())
	l := config.NewLab("/labs/campus", reg)
	diags := l.AddFile("mgmt.lab.hcl", src)
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	diags = append(diags, more...)
	diags = append(diags, planner.Validate(reg, d)...)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p.Configure(nil, providers.ConfigureRequest{Lab: providers.Lab{Name: "campus", Dir: "/labs/campus", WorkDir: "/labs/campus/.labform/qemu"}})
	p.accel = "tcg"
	var b strings.Builder
	for _, a := range d.Order {
		if a.Type != "vm" {
			continue
		}
		c, err := p.config(a.String(), providers.ObjectID(p.lab.Key(), a.String(), 0), d.Instances[a].Value, 0, nil)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		fmt.Fprintf(&b, "# %s\n%s", a, p.binaryFor(c.Platform))
		for _, arg := range argv(c) {
			if strings.HasPrefix(arg, "-") {
				b.WriteString(" \\\n ")
			}
			fmt.Fprintf(&b, " %s", shellQuote(arg))
		}
		b.WriteString("\n\n")
	}
	golden.Check(t, "../../testdata/qemu/argv-mgmt.golden", []byte(b.String()))
}

// TestManagementMAC: the management NIC's MAC follows the adapters'.
func TestManagementMAC(t *testing.T) {
	for name, tc := range map[string]struct {
		base     string
		adapters int
		want     string
	}{
		"after a base":        {"0c:7a:1e:00:00:10", 2, "0c:7a:1e:00:00:12"},
		"after no adapter":    {"0c:7a:1e:00:00:10", 0, "0c:7a:1e:00:00:10"},
		"carries into a byte": {"0c:7a:1e:00:00:ff", 1, "0c:7a:1e:00:01:00"},
	} {
		got := macs(tc.base, "id", tc.adapters+1)[tc.adapters]
		if got != tc.want {
			t.Errorf("%s: wrong MAC\ngot:  %s\nwant: %s", name, got, tc.want)
		}
	}
}
