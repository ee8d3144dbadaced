package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/qemu"
)

// TestValidate_fileSources: plan checks a node's file sources as it finds
// them (validate does not read them), at the file block's line: a
// directory's file that another block writes too, a missing source.
func TestValidate_fileSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "configs", "frr"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "configs", "frr", "daemons"), []byte("bgpd=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		blocks         string
		summary, words string
		line           int
	}{
		"fine": {blocks: `
  file {
    path   = "/etc/frr"
    source = "configs/frr"
  }
  file {
    path    = "/etc/frr/frr.conf"
    content = "router bgp 1\n"
  }`},
		"a directory's file written again": {blocks: `
  file {
    path   = "/etc/frr"
    source = "configs/frr"
  }
  file {
    path    = "/etc/frr/daemons"
    content = "zebra=yes\n"
  }`, summary: "File written twice", words: "vm.r: file[0] and file[1] both write /etc/frr/daemons", line: 10},
		"a missing source": {blocks: `
  file {
    path   = "/etc/frr/daemons"
    source = "configs/gone"
  }`, summary: "Invalid file source", words: "vm.r: file[0] /etc/frr/daemons: source: stat " + dir + "/configs/gone: no such file", line: 7},
	} {
		t.Run(name, func(t *testing.T) {
			reg := providers.NewRegistry()
			reg.Register(qemu.New())
			l := config.NewLab(dir, reg)
			diags := l.AddFile("main.lab.hcl", []byte("vm \"r\" {\n  provider = qemu\n  memory   = 64\n"+tc.blocks+"\n}\n"))
			diags = append(diags, l.Check()...)
			d, more := config.Evaluate(l, config.NewInputs(), nil)
			if diags = append(diags, more...); diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			p := &Planner{Registry: reg, Lab: l}
			p.labOnce.Do(func() { p.labIDv = "0123456789abcdef" })
			diags = p.validate(d)
			if tc.summary == "" {
				if diags.HasErrors() {
					t.Fatal(diags.Error())
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != tc.summary || !strings.Contains(diags[0].Detail, tc.words) || diags[0].Subject == nil || diags[0].Subject.Start.Line != tc.line {
				t.Fatalf("wrong diagnostics\ngot:  %v\nwant: %q (detail with %q) at line %d", diags, tc.summary, tc.words, tc.line)
			}
		})
	}
}
