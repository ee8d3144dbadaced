package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcled"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers/all"
)

// bigLab is a lab file larger than parallelParseMin whose blocks hold what
// a naive cut would break: heredocs and strings with braces and blank
// lines, comments over several lines, nested blocks. broken puts a syntax
// error into its middle.
func bigLab(broken bool) string {
	var b strings.Builder
	for i := 0; i < 1500; i++ {
		if broken && i == 700 {
			b.WriteString("container \"bad\" {\n  rootfs = [1, 2\n}\n\n")
		}
		fmt.Fprintf(&b, `/* block %d,
   a comment over lines
*/
container "c%d" {
  rootfs  = "rootfs"
  command = ["sh", "-c", "echo '{'; echo }"]
  env = {
    A = "x${%d}y"
  }
  hostname = <<EOT
line one {

}
EOT
  resources {
    memory = "64MiB"
  }
}
# after %d
`, i, i, i, i)
	}
	return b.String()
}

// TestParseInPieces: a large file parsed in pieces is the file HCL's own
// parser makes: the same blocks, ranges, attributes and navigation, and,
// for a file with an error, the same diagnostics.
func TestParseInPieces(t *testing.T) {
	for _, tc := range []struct {
		name   string
		broken bool
	}{{"valid", false}, {"syntax error in the middle", true}} {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(bigLab(tc.broken))
			if len(src) < parallelParseMin {
				t.Fatalf("the lab has %d bytes, fewer than %d: it would not be cut", len(src), parallelParseMin)
			}
			_, cuts, d := checkSource("big.lab.hcl", src, 0)
			if d != nil {
				t.Fatal(d)
			}
			if len(cuts) < 1500 {
				t.Fatalf("%d places to cut the file, want one at least per block", len(cuts))
			}
			got, gotDiags := parseHCL(hclparse.NewParser(), src, "big.lab.hcl", cuts)
			want, wantDiags := hclsyntax.ParseConfig(src, "big.lab.hcl", hcl.InitialPos)
			if !reflect.DeepEqual(diagStrings(gotDiags), diagStrings(wantDiags)) {
				t.Fatalf("diagnostics:\n got %v\nwant %v", diagStrings(gotDiags), diagStrings(wantDiags))
			}
			if tc.broken {
				if !wantDiags.HasErrors() {
					t.Fatal("the broken lab parses without errors")
				}
				return
			}
			gb, wb := got.Body.(*hclsyntax.Body), want.Body.(*hclsyntax.Body)
			if gb.SrcRange != wb.SrcRange || gb.EndRange != wb.EndRange {
				t.Fatalf("body ranges: got %v %v, want %v %v", gb.SrcRange, gb.EndRange, wb.SrcRange, wb.EndRange)
			}
			if len(gb.Blocks) != len(wb.Blocks) || len(gb.Blocks) != 1500 {
				t.Fatalf("%d blocks, HCL makes %d", len(gb.Blocks), len(wb.Blocks))
			}
			for i := range wb.Blocks {
				g, w := gb.Blocks[i], wb.Blocks[i]
				if g.Type != w.Type || !reflect.DeepEqual(g.Labels, w.Labels) || g.DefRange() != w.DefRange() || g.Body.SrcRange != w.Body.SrcRange {
					t.Fatalf("block %d: got %s %v at %v, want %s %v at %v", i, g.Type, g.Labels, g.DefRange(), w.Type, w.Labels, w.DefRange())
				}
				for name, wa := range w.Body.Attributes {
					ga := g.Body.Attributes[name]
					if ga == nil || ga.SrcRange != wa.SrcRange || ga.Expr.Range() != wa.Expr.Range() {
						t.Fatalf("block %d attribute %s: got %v, want %v", i, name, ga, wa.SrcRange)
					}
					gv, _ := ga.Expr.Value(nil)
					wv, _ := wa.Expr.Value(nil)
					if !gv.RawEquals(wv) {
						t.Fatalf("block %d attribute %s: value %#v, want %#v", i, name, gv, wv)
					}
				}
			}
			// Diagnostics name the block around a position.
			off := wb.Blocks[1400].Body.Attributes["rootfs"].SrcRange.Start.Byte
			if g, w := hcled.ContextString(got, off), hcled.ContextString(want, off); g != w || w == "" {
				t.Fatalf("context of byte %d: got %q, want %q", off, g, w)
			}
		})
	}
}

func diagStrings(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, fmt.Sprintf("%s: %s (%v)", d.Summary, d.Detail, d.Subject))
	}
	return out
}

// TestParseInPiecesIsHCL: a large file in the shape fastParse reads, with
// here and there a block it leaves to HCL (a comment, an interpolation),
// parses in pieces into exactly the body HCL's parser makes of the whole
// file.
func TestParseInPiecesIsHCL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every int // a block fastParse declines every this many blocks; 0: none
	}{{"all fast", 0}, {"some for HCL", 97}, {"first for HCL", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			for i := 0; b.Len() < 3*parallelParseMin; i++ {
				if tc.every > 0 && i%tc.every == 0 {
					fmt.Fprintf(&b, "# block %d\ncontainer \"x%d\" {\n  hostname = \"h-${%d}\"\n}\n\n", i, i, i)
				}
				b.WriteString(strings.ReplaceAll(unrolledShape[strings.Index(unrolledShape, "vm "):], `"n`, fmt.Sprintf(`"b%d-n`, i)))
			}
			src := []byte(b.String())
			_, cuts, d := checkSource("big.lab.hcl", src, 0)
			if d != nil {
				t.Fatal(d)
			}
			got, gotDiags := parseHCL(hclparse.NewParser(), src, "big.lab.hcl", cuts)
			want, wantDiags := hclsyntax.ParseConfig(src, "big.lab.hcl", hcl.InitialPos)
			if gotDiags.HasErrors() || wantDiags.HasErrors() {
				t.Fatalf("diagnostics: %v, HCL's: %v", gotDiags, wantDiags)
			}
			gb, wb := got.Body.(*hclsyntax.Body), want.Body.(*hclsyntax.Body)
			if !reflect.DeepEqual(gb, wb) {
				t.Fatalf("the body differs from HCL's:\n%s", bodyDiff(gb, wb))
			}
			if !reflect.DeepEqual(got.Bytes, want.Bytes) {
				t.Fatal("the file's bytes differ")
			}
			off := wb.Blocks[len(wb.Blocks)-1].Body.Attributes["target"].SrcRange.Start.Byte
			if g, w := hcled.ContextString(got, off), hcled.ContextString(want, off); g != w || w == "" {
				t.Fatalf("context of byte %d: got %q, want %q", off, g, w)
			}
		})
	}
}

// TestBackendParseShared: Load takes the file ReadBackend parsed, when
// its source has not changed since, and parses it again when it has.
func TestBackendParseShared(t *testing.T) {
	dir := t.TempDir()
	name := dir + "/main.lab.hcl"
	src := "lab {\n  name = \"shared\"\n}\n\ncontainer \"a\" {\n  rootfs = \"rootfs\"\n}\n"
	if err := os.WriteFile(name, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, change := range []bool{false, true} {
		if _, diags := ReadBackend(dir); diags.HasErrors() {
			t.Fatal(diags)
		}
		shared.Lock()
		parsed := shared.files[name].file
		shared.Unlock()
		if parsed == nil {
			t.Fatal("ReadBackend kept no parsed file")
		}
		if change {
			if err := os.WriteFile(name, []byte(strings.Replace(src, `"a"`, `"b"`, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, diags := Load(dir, all.Registry())
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if got := l.Parser.Files()[name]; (got == parsed) == change {
			t.Fatalf("source changed: %v; Load took ReadBackend's file: %v", change, got == parsed)
		}
		if _, ok := l.Resources[addr.Resource{Type: "container", Name: map[bool]string{false: "a", true: "b"}[change]}]; !ok {
			t.Fatalf("the loaded lab has %v", l.Order)
		}
		shared.Lock()
		_, left := shared.files[name]
		shared.Unlock()
		if left {
			t.Fatal("the parsed file is still kept after Load")
		}
	}
}
