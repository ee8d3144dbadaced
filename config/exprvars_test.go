package config

import (
	"reflect"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestExprVariablesIsHCL: exprVariables finds what Variables finds, in
// the same order, and constString's value is the template's.
func TestExprVariablesIsHCL(t *testing.T) {
	cases := []string{
		`1`, `true`, `null`, `"telnet"`, `""`, `"two words"`, `"caf\u00e9"`, `"a${b}"`, `"${var.x}"`, `"%{if true}x%{endif}"`,
		`vm.n0`, `vm.n0.port[0]`, `var.x`, `local.y[2].z`, `[vm.a.port[0], container.b.port[1]]`, `[]`, `["a", "b"]`,
		`[1, [vm.a, "x"], var.y]`, `[for x in var.l: x]`, `[for x in var.l: vm.a]`, `{a = vm.b}`, `upper(var.s)`, `var.a ? vm.b : vm.c`,
		`-var.n`, `(vm.a)`, `<<EOT
x ${var.y}
EOT
`, `<<EOT
plain
EOT
`, `"a\nb"`, `["x", "${var.y}"]`, `vm.a[*].port`,
	}
	constants := map[string]bool{`"telnet"`: true, `""`: true, `"two words"`: true, `"caf\u00e9"`: true, `"a\nb"`: true, "<<EOT\nplain\nEOT\n": true}
	for _, src := range cases {
		e, diags := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", src, diags)
		}
		if got, want := exprVariables(e), e.Variables(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: exprVariables %#v, Variables %#v", src, got, want)
		}
		v, ok := constString(e)
		if ok != constants[src] {
			t.Errorf("%s: constString says %v", src, ok)
		}
		if ok {
			want, d := e.Value(nil)
			if d.HasErrors() || !v.RawEquals(want) {
				t.Errorf("%s: constString %#v, Value %#v %v", src, v, want, d)
			}
		}
	}
}
