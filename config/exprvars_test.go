package config

import (
	"reflect"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
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

// TestFastConvertIsConvert: fastConvert's value is convert.Convert's.
func TestFastConvertIsConvert(t *testing.T) {
	ep := func(n string, p int64) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"node": cty.StringVal(n), "port": cty.NumberIntVal(p)})
	}
	epType := ep("a", 0).Type()
	cases := []struct {
		v  cty.Value
		ty cty.Type
	}{
		{cty.NumberIntVal(22), cty.String},
		{cty.NumberFloatVal(2.5), cty.String},
		{cty.StringVal("x"), cty.String},
		{cty.TupleVal([]cty.Value{cty.StringVal("sleep"), cty.StringVal("infinity")}), cty.List(cty.String)},
		{cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(1)}), cty.List(cty.String)},
		{cty.TupleVal([]cty.Value{cty.StringVal("a").Mark("m"), cty.StringVal("b")}), cty.List(cty.String)},
		{cty.TupleVal([]cty.Value{ep("vm.a", 0).Mark("dep"), ep("container.b", 1).Mark("dep2")}), cty.List(epType)},
		{cty.TupleVal([]cty.Value{ep("vm.a", 0), cty.UnknownVal(epType)}), cty.List(epType)},
		{cty.TupleVal([]cty.Value{cty.StringVal("a")}).Mark("m"), cty.List(cty.String)},
		{cty.EmptyTupleVal, cty.List(cty.String)},
		{cty.UnknownVal(cty.Tuple([]cty.Type{cty.String})), cty.List(cty.String)},
		{cty.TupleVal([]cty.Value{cty.StringVal("a")}), cty.Set(cty.String)},
		{cty.TupleVal([]cty.Value{cty.ListVal([]cty.Value{cty.StringVal("a")})}), cty.List(cty.List(cty.String))},
	}
	for _, c := range cases {
		want, werr := convert.Convert(c.v, c.ty)
		got, err := fastConvert(c.v, c.ty)
		if (err != nil) != (werr != nil) || (err == nil && (!got.RawEquals(want) || !got.Type().Equals(want.Type()))) {
			t.Errorf("%#v to %#v: got %#v, %v; want %#v, %v", c.v, c.ty, got, err, want, werr)
		}
	}
}
