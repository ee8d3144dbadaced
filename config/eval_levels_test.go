package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/labform/labform/providers/all"
)

// levelsLab has locals and resources over three levels, and errors in
// each: a wrong type, a value not allowed, a port that does not exist
// (which improveIndexDiags explains) and an unknown reference.
const levelsLab = `locals {
  mem  = 512
  name = "x"
}

container "a" {
  rootfs   = "rootfs"
  hostname = local.name
  ports    = 2
}

container "b" {
  rootfs = "rootfs"
  ports  = "many"
}

vm "c" {
  provider = qemu
  memory   = local.mem
  adapters = 1
}

vm "d" {
  console = "nope"
}

link "ab" {
  endpoints = [container.a.port[0], container.a.port[1]]
}

link "ac" {
  endpoints = [container.a.port[1], vm.c.port[3]]
}

link "cc" {
  endpoints = [vm.c.port[0], vm.c.memory]
}

firewall_chain "f" {
  target = container.a
  hooks  = ["OUTPUT"]
  mode   = "denylist"
  rule {
    action   = "accept"
    protocol = "tcp"
    dport    = link.ab.endpoints[0]
  }
}
`

// TestEvalLevelsIsInOrder: evaluating level by level gives what
// evaluating in order gives: the same instances, values, dependencies
// and diagnostics in the same order, on every lab file of the
// repository and on a lab with errors on each level.
func TestEvalLevelsIsInOrder(t *testing.T) {
	labs := map[string]string{"levels.lab.hcl": levelsLab}
	filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, FileSuffix) {
			if b, err := os.ReadFile(path); err == nil {
				labs[path] = string(b)
			}
		}
		return nil
	})
	levels := 0
	for name, src := range labs {
		dir := t.TempDir()
		eval := func(inLevels bool) (string, *Desired) {
			evalInLevels = inLevels
			defer func() { evalInLevels = true }()
			l := NewLab(dir, all.Registry())
			diags := l.AddFile(name, []byte(src))
			diags = append(diags, l.Check()...)
			if diags.HasErrors() {
				return "", nil
			}
			in := NewInputs()
			in.Unknowns = true
			d, diags := Evaluate(l, in, nil)
			// Within a block, diagnostics come in the order of a map's
			// range (evalContent's, as before); between blocks, in
			// order. So: the block of each diagnostic, in order, and
			// the diagnostics sorted.
			var blocks []int
			for _, diag := range diags {
				b := -1
				if diag.Subject != nil {
					for i, blk := range l.Parser.Files()[name].Body.(*hclsyntax.Body).Blocks {
						if blk.Range().ContainsOffset(diag.Subject.Start.Byte) {
							b = i
						}
					}
				}
				blocks = append(blocks, b)
			}
			// As the CLI writes them: with the values of what the
			// expression refers to.
			var text []string
			for _, diag := range diags {
				var b strings.Builder
				hcl.NewDiagnosticTextWriter(&b, l.Parser.Files(), 100, false).WriteDiagnostic(diag)
				text = append(text, b.String())
			}
			sort.Strings(text)
			return fmt.Sprint(blocks, text), d
		}
		wantDiags, want := eval(false)
		gotDiags, got := eval(true)
		if want == nil {
			continue
		}
		if order, _ := got.Lab.evalOrder(); got.inLevels(order) {
			levels++
			if name == "levels.lab.hcl" && (!strings.Contains(gotDiags, "Port index out of range") || !strings.Contains(gotDiags, "element 1: object required")) {
				t.Fatalf("the levels lab has the wrong errors: %s", gotDiags)
			}
		} else if name == "levels.lab.hcl" {
			t.Fatal("the levels lab is not evaluated in levels")
		}
		if gotDiags != wantDiags {
			t.Fatalf("%s: diagnostics\n got %s\nwant %s", name, gotDiags, wantDiags)
		}
		if !reflect.DeepEqual(got.Order, want.Order) {
			t.Fatalf("%s: order %v, want %v", name, got.Order, want.Order)
		}
		for _, a := range want.Order {
			g, w := got.Instances[a], want.Instances[a]
			if !g.Value.RawEquals(w.Value) || !reflect.DeepEqual(g.Deps, w.Deps) || g.UnknownArgs != w.UnknownArgs || !reflect.DeepEqual(g.SensitivePaths, w.SensitivePaths) {
				t.Fatalf("%s: %s differs:\n got %#v %v\nwant %#v %v", name, a, g.Value, g.Deps, w.Value, w.Deps)
			}
		}
	}
	if levels < 5 {
		t.Fatalf("only %d labs were evaluated in levels", levels)
	}
}
