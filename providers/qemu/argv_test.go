package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
)

// TestArgvGolden pins the qemu-system command line of representative VMs
// (testdata/qemu/vms.lab.hcl), with linked clones: each disk is the
// overlay in the working directory. go test -run ArgvGolden -update
// rewrites it.
func TestArgvGolden(t *testing.T) {
	src, err := os.ReadFile("../../testdata/qemu/vms.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	p := New()
	reg := providers.NewRegistry()
	reg.Register(p)
	l := config.NewLab("/labs/campus", reg)
	diags := l.AddFile("vms.lab.hcl", src)
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	diags = append(diags, more...)
	diags = append(diags, planner.Validate(reg, d)...)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p.Configure(nil, providers.ConfigureRequest{Lab: providers.Lab{Name: "campus", Dir: "/labs/campus", WorkDir: "/labs/campus/.labform/qemu"}})
	p.accel = "tcg" // the golden must not depend on this host's /dev/kvm
	var b strings.Builder
	for _, a := range d.Order {
		c, err := p.config(a.String(), providers.ObjectID(p.lab.Key(), a.String(), 0), d.Instances[a].Value, num(d.Instances[a].Value, "console_port"), d.Instances[a].SensitivePaths)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		for i := range c.Disks {
			c.Disks[i].Path, c.Disks[i].Format = filepath.Join(c.Dir, c.Disks[i].Slot+".qcow2"), "qcow2"
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
	golden.Check(t, "../../testdata/qemu/argv.golden", []byte(b.String()))
}

// shellQuote makes the golden readable as a command: arguments with
// spaces or quotes are quoted (QEMU itself gets argv, never a shell).
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\"\\$`") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// TestValidateVMs: bad values are diagnostics on their line.
func TestMACs(t *testing.T) {
	got := macs("0c:7a:1e:00:00:fe", "/lab", "vm.a", 3)
	want := []string{"0c:7a:1e:00:00:fe", "0c:7a:1e:00:00:ff", "0c:7a:1e:00:01:00"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", got, want)
	}
	gen := macs("", "/lab", "vm.a", 2)
	if gen[0] == macs("", "/lab", "vm.b", 1)[0] || !strings.HasPrefix(gen[0], "52:54:00:") || !strings.HasSuffix(gen[1], ":01") {
		t.Fatalf("generated bases must be stable per VM, distinct between VMs, in 52:54:00 and counting up: %v", gen)
	}
}
