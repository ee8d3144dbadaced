package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// unrolledShape is a few blocks as a lab written out block by block has
// them.
const unrolledShape = `lab {
  name = "unrolled"
}

vm "n0" {
  provider     = qemu
  memory       = 2048
  cpus         = 1
  adapters     = 2
  adapter_type = "virtio-net-pci"
  console      = "telnet"
}

container "n1" {
  rootfs   = "rootfs"
  command  = ["sleep", "infinity"]
  hostname = "node-1"
  ports    = 2
  resources {
    memory = "2048MiB"
  }
}

link "l0" {
  endpoints = [vm.n0.port[0], container.n1.port[0]]
}

firewall_chain "c0" {
  target = container.n1
  hooks  = ["OUTPUT"]
  mode   = "denylist"
  rule {
    action   = "accept"
    protocol = "tcp"
    dport    = 1000
    source   = "10.0.0.0/16"
    comment  = "rule 0"
  }
}

`

// TestFastParseIsHCL: what fastParse accepts, it parses into exactly the
// body HCL's parser makes (node types, values, ranges, down to unexported
// fields), in a piece that starts anywhere in a file; what it does not
// accept, it leaves to HCL.
func TestFastParseIsHCL(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		fast      bool
	}{
		{"unrolled shape", unrolledShape, true},
		{"empty", "", true},
		{"blank lines and spaces", "\n  \n\t\n", true},
		{"no newline at the end", "a {\n  b = 1\n}", true},
		{"attribute at the end without newline", "a {\n  b = 1\n}\nc \"d\" {\n  e = x.y\n  f = [1, 2,\n    3,\n  ]\n}\n", true},
		{"bare labels and empty body", "a b \"c\" {\n}\nd {}\n", true},
		{"literals", "a {\n  t = true\n  f = false\n  n = null\n  s = \"a$b 100%\"\n  e = []\n  l = [[1], [x, \"y\"]]\n}\n", true},
		{"traversals", "a {\n  x = vm.n-1.port[12]\n  y = a_b.c[ 3 ]\n  z = p[\n 1 ]\n}\n", true},
		{"tabs", "a\t{\n\tb\t=\t1\n}\n", true},
		{"top-level attribute", "x = 1\n", true},
		{"index after a space", "a {\n  b = x [0]\n}\n", false},
		{"empty string", "a {\n  b = \"\"\n}\n", false},
		{"escape", "a {\n  b = \"\\n\"\n}\n", false},
		{"interpolation", "a {\n  b = \"${x}\"\n}\n", false},
		{"directive", "a {\n  b = \"%{if x}y%{endif}\"\n}\n", false},
		{"escaped dollar", "a {\n  b = \"$${x}\"\n}\n", false},
		{"comment", "# c\na {\n}\n", false},
		{"comment after an attribute", "a {\n  b = 1 // c\n}\n", false},
		{"block comment", "a {\n  /* c */\n}\n", false},
		{"function call", "a {\n  b = f(1)\n}\n", false},
		{"function call after a space", "a {\n  b = f (1)\n}\n", false},
		{"namespaced function", "a {\n  b = core::f(1)\n}\n", false},
		{"operator", "a {\n  b = 1 + 2\n}\n", false},
		{"negative number", "a {\n  b = -1\n}\n", false},
		{"fraction", "a {\n  b = 1.5\n}\n", false},
		{"exponent", "a {\n  b = 1e3\n}\n", false},
		{"conditional", "a {\n  b = x ? 1 : 2\n}\n", false},
		{"object", "a {\n  b = {x = 1}\n}\n", false},
		{"for expression", "a {\n  b = [for x in y : x]\n}\n", false},
		{"splat", "a {\n  b = x[*].y\n}\n", false},
		{"attribute splat", "a {\n  b = x.*.y\n}\n", false},
		{"legacy index", "a {\n  b = x.0\n}\n", false},
		{"string index", "a {\n  b = x[\"k\"]\n}\n", false},
		{"expression index", "a {\n  b = x[i]\n}\n", false},
		{"index of a literal", "a {\n  b = [1][0]\n}\n", false},
		{"attribute of true", "a {\n  b = true.x\n}\n", false},
		{"heredoc", "a {\n  b = <<EOT\nx\nEOT\n}\n", false},
		{"single-line block", "a { b = 1 }\n", false},
		{"two attributes on a line", "a {\n  b = 1, c = 2\n}\n", false},
		{"duplicate attribute", "a {\n  b = 1\n  b = 2\n}\n", false},
		{"unclosed block", "a {\n  b = 1\n", false},
		{"unclosed tuple", "a {\n  b = [1, 2\n}\n", false},
		{"block without brace", "a \"b\"\n", false},
		{"quoted label with escape", "a \"b\\\"\" {\n}\n", false},
		{"non-ASCII", "a {\n  b = \"é\"\n}\n", false},
		{"carriage return", "a {\r\n  b = 1\r\n}\r\n", false},
		{"stray brace", "}\n", false},
		{"text after a block", "a {\n} b\n", false},
		{"number then name", "a {\n  b = 1x\n}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fast := checkFastParse(t, tc.src); fast != tc.fast {
				t.Fatalf("fastParse accepts it: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// TestFastParseLabFiles: every lab file of the repository that fastParse
// accepts parses as HCL parses it.
func TestFastParseLabFiles(t *testing.T) {
	var files []string
	filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, FileSuffix) {
			files = append(files, path)
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("found %d lab files", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkFastParse(t, string(src))
	}
}

// checkFastParse parses src whole and as a piece after a prefix; where
// fastParse accepts it, the result must be HCL's. It reports whether
// fastParse accepted it.
func checkFastParse(t *testing.T, src string) bool {
	t.Helper()
	const prefix = "x {\n  y = 1\n}\n\n"
	for _, pre := range []string{"", prefix} {
		whole := []byte(pre + src)
		start := hcl.Pos{Line: strings.Count(pre, "\n") + 1, Column: 1, Byte: len(pre)}
		got, ok := fastParse(whole, "f.lab.hcl", len(pre), len(whole), start)
		if !ok {
			return false
		}
		f, diags := hclsyntax.ParseConfig(whole[len(pre):], "f.lab.hcl", start)
		if diags.HasErrors() {
			t.Fatalf("fastParse accepts what HCL reports: %v", diags)
		}
		want := f.Body.(*hclsyntax.Body)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fastParse's body differs from HCL's:\n%s", bodyDiff(got, want))
		}
	}
	return true
}

// bodyDiff names the first place two bodies differ.
func bodyDiff(got, want *hclsyntax.Body) string {
	if got.SrcRange != want.SrcRange || got.EndRange != want.EndRange {
		return "body ranges: " + got.SrcRange.String() + " " + got.EndRange.String() + ", want " + want.SrcRange.String() + " " + want.EndRange.String()
	}
	for name, wa := range want.Attributes {
		ga := got.Attributes[name]
		if !reflect.DeepEqual(ga, wa) {
			return "attribute " + name + ": " + describe(ga) + "\nwant " + describe(wa)
		}
	}
	if len(got.Blocks) != len(want.Blocks) {
		return "number of blocks"
	}
	for i := range want.Blocks {
		g, w := got.Blocks[i], want.Blocks[i]
		if !reflect.DeepEqual(g, w) {
			if !reflect.DeepEqual(g.Body, w.Body) {
				return "block " + w.Type + ": " + bodyDiff(g.Body, w.Body)
			}
			return "block " + w.Type + " header: " + describe(g) + "\nwant " + describe(w)
		}
	}
	return "elsewhere"
}

func describe(v any) string {
	return strings.ReplaceAll(strings.TrimSpace(fmt.Sprintf("%#v", v)), "\n", " ")
}

// FuzzFastParse: on any text, fastParse either declines or makes HCL's
// body.
//
//	go test ./config -run '^$' -fuzz FuzzFastParse -fuzztime 60s
func FuzzFastParse(f *testing.F) {
	f.Add(unrolledShape)
	f.Add("a {\n  b = [x.y[1], \"z\", true]\n}\n")
	f.Fuzz(func(t *testing.T, src string) {
		checkFastParse(t, src)
	})
}
