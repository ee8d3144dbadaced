package ctyobj

import (
	"fmt"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestLayout: with the cty of go.mod, Builder takes its fast way (a cty
// that lays values out otherwise would still give the right values, by
// cty.ObjectVal, but slower: this test says so).
func TestLayout(t *testing.T) {
	if !fast {
		t.Fatal("cty.Value is not laid out as ctyobj expects: every Builder falls back to cty.ObjectVal")
	}
}

// TestBuilderIsObjectVal: whatever is set, the value is the one
// cty.ObjectVal makes of the same attributes, of the same type.
func TestBuilderIsObjectVal(t *testing.T) {
	inner := cty.Object(map[string]cty.Type{"n": cty.Number})
	ty := cty.Object(map[string]cty.Type{
		"s": cty.String, "n": cty.Number, "l": cty.List(inner), "m": cty.Map(cty.String), "any": cty.DynamicPseudoType,
	})
	full := map[string]cty.Value{
		"s":   cty.StringVal("x"),
		"n":   cty.NumberIntVal(3),
		"l":   cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(1)})}),
		"m":   cty.MapValEmpty(cty.String),
		"any": cty.DynamicVal,
	}
	with := func(name string, v cty.Value) map[string]cty.Value {
		m := map[string]cty.Value{}
		for k, x := range full {
			m[k] = x
		}
		if v == cty.NilVal {
			delete(m, name)
		} else {
			m[name] = v
		}
		return m
	}
	cases := map[string]struct {
		attrs map[string]cty.Value
		fast  bool // the value is of type ty
	}{
		"every attribute of its type":  {full, true},
		"unknown and null":             {with("s", cty.UnknownVal(cty.String)), true},
		"null list":                    {with("l", cty.NullVal(cty.List(inner))), true},
		"marked":                       {with("s", cty.StringVal("secret").Mark("sensitive")), true},
		"marked inside":                {with("l", cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(1).Mark("m")})})), true},
		"a string where any goes":      {with("any", cty.StringVal("y")), false},
		"a number where a string goes": {with("s", cty.NumberIntVal(1)), false},
		"an attribute missing":         {with("n", cty.NilVal), false},
		"an attribute the type lacks":  {with("extra", cty.True), false},
		"another element type":         {with("l", cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"n": cty.StringVal("1")})})), false},
	}
	defer func(f bool) { fast = f }(fast)
	for _, fast = range []bool{true, false} {
		for name, c := range cases {
			t.Run(fmt.Sprintf("%s, fast %v", name, fast), func(t *testing.T) {
				testBuilder(t, ty, c.attrs, c.fast)
			})
		}
	}
}

// testBuilder builds attrs with New(ty), then sets s again with From,
// and compares both with cty.ObjectVal; ofTy is whether the attributes
// make an object of type ty.
func testBuilder(t *testing.T, ty cty.Type, attrs map[string]cty.Value, ofTy bool) {
	t.Helper()
	want := cty.ObjectVal(attrs)
	b := New(ty)
	for k, v := range attrs {
		b.Set(k, v)
	}
	got := b.Value()
	if !got.Type().Equals(want.Type()) || !got.RawEquals(want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	if got.Type().Equals(ty) != ofTy {
		t.Errorf("of the given type: %v, want %v", got.Type().Equals(ty), ofTy)
	}
	for k, v := range attrs {
		if !got.GetAttr(k).RawEquals(v) {
			t.Errorf("%s = %#v, want %#v", k, got.GetAttr(k), v)
		}
	}
	f := From(got)
	f.Set("s", cty.StringVal("again"))
	again := map[string]cty.Value{}
	for k, v := range attrs {
		again[k] = v
	}
	again["s"] = cty.StringVal("again")
	if want, got := cty.ObjectVal(again), f.Value(); !got.Type().Equals(want.Type()) || !got.RawEquals(want) {
		t.Errorf("From and Set: got %#v, want %#v", got, want)
	}
	if !got.RawEquals(want) {
		t.Errorf("From changed the value it started from: %#v", got)
	}
}

// TestFromEmpty: From takes an object without attributes too.
func TestFromEmpty(t *testing.T) {
	defer func(f bool) { fast = f }(fast)
	for _, fast = range []bool{true, false} {
		b := From(cty.EmptyObjectVal)
		if got := b.Value(); !got.RawEquals(cty.EmptyObjectVal) {
			t.Errorf("fast %v: got %#v, want the empty object", fast, got)
		}
		b = From(cty.EmptyObjectVal)
		b.Set("t", cty.True)
		if want, got := cty.ObjectVal(map[string]cty.Value{"t": cty.True}), b.Value(); !got.RawEquals(want) {
			t.Errorf("fast %v: got %#v, want %#v", fast, got, want)
		}
	}
}

// TestWhollyKnown: WhollyKnown and Attributes answer as cty's
// IsWhollyKnown and GetAttr, on objects nested in lists, maps, sets and
// tuples, with marks and unknowns at any depth.
func TestWhollyKnown(t *testing.T) {
	obj := func(v cty.Value) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": v})
	}
	cases := map[string]cty.Value{
		"known":              obj(cty.NumberIntVal(1)),
		"unknown attribute":  obj(cty.UnknownVal(cty.Number)),
		"null attribute":     obj(cty.NullVal(cty.Number)),
		"marked unknown":     obj(cty.UnknownVal(cty.Number).Mark("m")),
		"marked object":      obj(cty.True).Mark("m"),
		"unknown in a list":  obj(cty.ListVal([]cty.Value{obj(cty.True), obj(cty.UnknownVal(cty.Bool))})),
		"known list":         obj(cty.ListVal([]cty.Value{obj(cty.True), obj(cty.False)})),
		"unknown in a map":   obj(cty.MapVal(map[string]cty.Value{"k": obj(cty.UnknownVal(cty.Bool))})),
		"unknown in a tuple": obj(cty.TupleVal([]cty.Value{cty.StringVal("s"), obj(cty.DynamicVal)})),
		"unknown in a set":   obj(cty.SetVal([]cty.Value{cty.UnknownVal(cty.String)})),
		"null object":        cty.NullVal(cty.Object(map[string]cty.Type{"a": cty.String})),
		"unknown object":     cty.UnknownVal(cty.Object(map[string]cty.Type{"a": cty.String})),
		"empty object":       cty.EmptyObjectVal,
		"dynamic":            cty.DynamicVal,
		"string":             cty.StringVal("s"),
	}
	defer func(f bool) { fast = f }(fast)
	for _, fast = range []bool{true, false} {
		for name, v := range cases {
			if got, want := WhollyKnown(v), v.IsWhollyKnown(); got != want {
				t.Errorf("fast %v, %s: WhollyKnown %v, IsWhollyKnown %v", fast, name, got, want)
			}
			if plain, _ := v.Unmark(); plain.Type().IsObjectType() && plain.IsKnown() && !plain.IsNull() {
				seen := 0
				Attributes(plain, func(n string, a cty.Value) bool {
					seen++
					if !Attr(plain, n).RawEquals(plain.GetAttr(n)) || !Attr(v, n).RawEquals(v.GetAttr(n)) {
						t.Errorf("fast %v, %s: Attr(%s) is not GetAttr's", fast, name, n)
					}
					if !a.RawEquals(plain.GetAttr(n)) {
						t.Errorf("fast %v, %s: attribute %s is %#v, not %#v", fast, name, n, a, plain.GetAttr(n))
					}
					return true
				})
				if seen != len(plain.Type().AttributeTypes()) {
					t.Errorf("fast %v, %s: %d attributes seen", fast, name, seen)
				}
			}
		}
	}
}
