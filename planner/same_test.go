package planner

import (
	"bytes"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// TestSameValue: one value is itself; an equal value built apart, or a
// different one, is not the same value (RawEquals decides then).
func TestSameValue(t *testing.T) {
	obj := func() cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "l": cty.ListVal([]cty.Value{cty.NumberIntVal(1)})})
	}
	v := obj()
	for _, c := range []struct {
		name string
		a, b cty.Value
		want bool
	}{
		{"the value itself", v, v, true},
		{"a copy of the value", v, func() cty.Value { w := v; return w }(), true},
		{"an equal value built apart", v, obj(), false},
		{"another value", v, cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("y")}), false},
		{"not objects", cty.StringVal("x"), cty.StringVal("x"), false},
		{"null", cty.NullVal(v.Type()), cty.NullVal(v.Type()), false},
	} {
		if got := sameValue(c.a, c.b); got != c.want {
			t.Errorf("%s: sameValue = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestEncodeEarly: the planned value encoded while the provider works is
// used only for that value; a provider that returns another value gets
// its own encoding, and an unknown planned value is never encoded early.
func TestEncodeEarly(t *testing.T) {
	schema := &providers.Schema{Block: providers.Block{Attributes: map[string]*providers.Attribute{
		"a": providers.Optional(cty.String, providers.InPlace, "a"),
	}}}
	planned := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x")})
	want, err := encodeValue(schema, planned)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := encodeEarly(schema, planned).of(planned); !ok || !bytes.Equal(b, want) {
		t.Errorf("the planned value itself: got %q, %v; want its encoding", b, ok)
	}
	if b, ok := encodeEarly(schema, planned).of(cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x")})); !ok || !bytes.Equal(b, want) {
		t.Errorf("an equal value: got %q, %v; want the planned value's encoding", b, ok)
	}
	if _, ok := encodeEarly(schema, planned).of(cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("y")})); ok {
		t.Error("another value was given the planned value's encoding")
	}
	unknown := cty.ObjectVal(map[string]cty.Value{"a": cty.UnknownVal(cty.String)})
	if _, ok := encodeEarly(schema, unknown).of(unknown); ok {
		t.Error("an unknown planned value was encoded")
	}
}
