package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/mgmtnet"
)

// TestArgvGolden pins the qemu-system command lines of representative
// VMs, one golden per lab: testdata/qemu/vms.lab.hcl with linked clones
// (each disk the overlay in the working directory), and
// testdata/qemu/mgmt.lab.hcl on a management network (one more tap NIC
// after the adapters, its MAC the next of the adapters'; a VM without a
// management address, here one the planner has not assigned, gets no
// such NIC). go test -run ArgvGolden -update rewrites them.
func TestArgvGolden(t *testing.T) {
	tests := map[string]struct {
		lab, golden string
		// also are the providers the lab needs besides qemu.
		also []providers.Provider
		// overlays gives each disk the path of its linked clone, as
		// apply does after qemu-img has made it.
		overlays bool
	}{
		"vms":        {lab: "vms.lab.hcl", golden: "argv.golden", overlays: true},
		"management": {lab: "mgmt.lab.hcl", golden: "argv-mgmt.golden", also: []providers.Provider{mgmtnet.New()}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("../../testdata/qemu", tc.lab))
			if err != nil {
				t.Fatal(err)
			}
			p := New()
			reg := providers.NewRegistry()
			reg.Register(p)
			for _, o := range tc.also {
				reg.Register(o)
			}
			l := config.NewLab("/labs/campus", reg)
			diags := l.AddFile(tc.lab, src)
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
				if a.Type != "vm" {
					continue
				}
				v := d.Instances[a]
				c, err := p.config(a.String(), providers.ObjectID(p.lab.Key(), a.String(), 0), v.Value, num(v.Value, "console_port"), v.SensitivePaths)
				if err != nil {
					t.Fatalf("%s: %v", a, err)
				}
				if tc.overlays {
					for i := range c.Disks {
						c.Disks[i].Path, c.Disks[i].Format = filepath.Join(c.Dir, c.Disks[i].Slot+".qcow2"), "qcow2"
					}
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
			golden.Check(t, filepath.Join("../../testdata/qemu", tc.golden), []byte(b.String()))
		})
	}
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
	got := macs("0c:7a:1e:00:00:fe", "id-a", 3)
	want := []string{"0c:7a:1e:00:00:fe", "0c:7a:1e:00:00:ff", "0c:7a:1e:00:01:00"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", got, want)
	}
	gen := macs("", "id-a", 2)
	if gen[0] == macs("", "id-b", 1)[0] || !strings.HasPrefix(gen[0], "52:54:00:") || !strings.HasSuffix(gen[1], ":01") {
		t.Fatalf("generated bases must be stable per VM, distinct between VMs, in 52:54:00 and counting up: %v", gen)
	}
}

// TestExtraArgsCommas: whatever a for_each key (in %vm-name%) or the
// lab's path holds, QEMU reads the option lists of the command line with
// the keys the user wrote and no more; a value taken whole (-D) is the
// value itself.
func TestExtraArgsCommas(t *testing.T) {
	cases := []struct {
		addr, labDir string
	}{
		{`vm.a`, "/labs/x"},
		{`vm.k["k,guest=on"]`, "/labs/x"},
		{`vm.k[",,"]`, "/labs/x"},
		{`vm.k["a,,b,"]`, "/labs/a,b=c"},
		{`vm.k["x,id=evil,"]`, "/labs/,readonly=on"},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			c := &vmConfig{Addr: tc.addr, UUID: "u", Dir: "/labs/x/.labform/qemu/d"}
			words, err := extraArgs("-fw_cfg name=opt/n,string=%vm-name% -device e1000,netdev=n0,id=x%vm-name% -drive file=%lab-path%/d.img,if=none -D %lab-path%/%vm-name%.log -name %vm-name%", c, "lab", tc.labDir)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{
				"-fw_cfg": {"name=opt/n", "string=" + tc.addr},
				"-device": {"e1000", "netdev=n0", "id=x" + tc.addr},
				"-drive":  {"file=" + tc.labDir + "/d.img", "if=none"},
				"-name":   {tc.addr},
			}
			for i := 0; i+1 < len(words); i += 2 {
				flag, arg := words[i], words[i+1]
				if flag == "-D" {
					if arg != tc.labDir+"/"+tc.addr+".log" {
						t.Errorf("-D %q: a file name is taken whole and must not be escaped", arg)
					}
					continue
				}
				if got := qemuOpts(arg); strings.Join(got, "\x00") != strings.Join(want[flag], "\x00") {
					t.Errorf("%s %s: QEMU reads %q, want %q", flag, arg, got, want[flag])
				}
			}
			if a := argv(&vmConfig{Addr: tc.addr, Dir: c.Dir, BootOrder: "c"}); a[0] != "-name" || strings.Join(qemuOpts(a[1]), "") != tc.addr {
				t.Errorf("-name %s: QEMU reads %q", a[1], qemuOpts(a[1]))
			}
		})
	}
}

// qemuOpts splits an option list as QEMU's QemuOpts does: a comma ends an
// item, two commas are one comma of the value.
func qemuOpts(s string) []string {
	var items []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			if i+1 < len(s) && s[i+1] == ',' {
				cur.WriteByte(',')
				i++
				continue
			}
			items = append(items, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(s[i])
	}
	return append(items, cur.String())
}

// TestValidateFiles: a vm's file blocks and config disk are checked at
// validate, each error on its line (testdata/qemu/invalid_files.lab.hcl):
// on_change is refused on a VM.
func TestValidateFiles(t *testing.T) {
	src, err := os.ReadFile("../../testdata/qemu/invalid_files.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRegistry()
	reg.Register(New())
	l := config.NewLab("/lab", reg)
	diags := l.AddFile("invalid_files.lab.hcl", src)
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	diags = append(diags, more...)
	if !diags.HasErrors() {
		diags = append(diags, planner.Validate(reg, d)...)
	}
	got := map[int]string{}
	for _, dg := range diags {
		if dg.Severity == hcl.DiagError && dg.Subject != nil {
			got[dg.Subject.Start.Line] = dg.Summary
		}
	}
	golden.CheckLines(t, got, golden.Markers(src))
}
