package ctyobj

import (
	"maps"
	"reflect"
	"unsafe"

	"github.com/zclconf/go-cty/cty"
)

// value has cty.Value's layout: the type, and the Go representation
// (for a known, unmarked object, a map of its attributes'
// representations).
type value struct {
	ty cty.Type
	v  any
}

// fast is whether cty.Value is laid out as value, checked once.
var fast = layoutMatches()

func layoutMatches() bool {
	rt := reflect.TypeFor[cty.Value]()
	if rt.Size() != unsafe.Sizeof(value{}) || rt.NumField() != 2 {
		return false
	}
	ty, v := rt.Field(0), rt.Field(1)
	if ty.Name != "ty" || ty.Type != reflect.TypeFor[cty.Type]() || ty.Offset != unsafe.Offsetof(value{}.ty) ||
		v.Name != "v" || v.Type != reflect.TypeFor[any]() || v.Offset != unsafe.Offsetof(value{}.v) {
		return false
	}
	// An object's representation is a map of its attributes'.
	attrs := map[string]cty.Value{
		"s": cty.StringVal("x"),
		"l": cty.ListVal([]cty.Value{cty.NumberIntVal(1)}),
		"u": cty.UnknownVal(cty.Bool),
		"m": cty.StringVal("y").Mark("m"),
	}
	want := cty.ObjectVal(attrs)
	m, ok := raw(want).(map[string]any)
	if !ok || len(m) != len(attrs) {
		return false
	}
	for name, a := range attrs {
		if !reflect.DeepEqual(m[name], raw(a)) {
			return false
		}
	}
	got := make(map[string]any, len(attrs))
	for name, a := range attrs {
		got[name] = raw(a)
	}
	v2 := of(want.Type(), got)
	return v2.Type().Equals(want.Type()) && v2.RawEquals(want) && v2.GetAttr("s").RawEquals(attrs["s"]) && v2.GetAttr("m").RawEquals(attrs["m"])
}

// raw is v's Go representation.
func raw(v cty.Value) any { return (*value)(unsafe.Pointer(&v)).v }

// of is the value of type ty represented by v.
func of(ty cty.Type, v any) cty.Value {
	x := value{ty: ty, v: v}
	return *(*cty.Value)(unsafe.Pointer(&x))
}

// Builder makes one object value of a given type. Make it with New or
// From; it is not safe for concurrent use.
type Builder struct {
	ty    cty.Type
	attrs map[string]cty.Type // ty's attributes; nil: only vals is used
	m     map[string]any      // the attributes' representations
	// vals holds the attributes once one did not fit ty: the object is
	// then made by cty.ObjectVal.
	vals map[string]cty.Value
}

// New starts an object of type ty (an object type without optional
// attributes).
func New(ty cty.Type) Builder {
	if !fast || !ty.IsObjectType() || len(ty.OptionalAttributes()) > 0 {
		return Builder{vals: map[string]cty.Value{}}
	}
	attrs := ty.AttributeTypes()
	return Builder{ty: ty, attrs: attrs, m: make(map[string]any, len(attrs))}
}

// From starts an object with the attributes of obj, to set some of them
// again. obj is a known object, not null and without marks, as
// obj.AsValueMap requires.
func From(obj cty.Value) Builder {
	if !fast || obj.IsMarked() || !obj.IsKnown() || obj.IsNull() || !obj.Type().IsObjectType() || len(obj.Type().OptionalAttributes()) > 0 {
		vals := obj.AsValueMap()
		if vals == nil {
			vals = map[string]cty.Value{}
		}
		return Builder{vals: vals}
	}
	ty := obj.Type()
	return Builder{ty: ty, attrs: ty.AttributeTypes(), m: maps.Clone(raw(obj).(map[string]any))}
}

// Set gives the attribute name the value v.
func (b *Builder) Set(name string, v cty.Value) {
	if b.vals == nil {
		if at, ok := b.attrs[name]; ok && sameType(at, v.Type()) {
			b.m[name] = raw(v)
			return
		}
		b.spill()
	}
	b.vals[name] = v
}

// Value is the object.
func (b *Builder) Value() cty.Value {
	if b.vals == nil && len(b.m) == len(b.attrs) {
		return of(b.ty, b.m)
	}
	if b.vals == nil {
		b.spill()
	}
	return cty.ObjectVal(b.vals)
}

// spill turns to cty.ObjectVal's way: the attributes set so far, as
// values, in vals.
func (b *Builder) spill() {
	b.vals = make(map[string]cty.Value, len(b.attrs))
	for name, r := range b.m {
		b.vals[name] = of(b.attrs[name], r)
	}
	b.m = nil
}

// sameType is a.Equals(b), without its walk when both are one type value.
func sameType(a, b cty.Type) bool {
	return a.Equals(b)
}

// WhollyKnown is v.IsWhollyKnown(), without the sorted list of names that
// cty's element iterator makes of every object it walks.
func WhollyKnown(v cty.Value) bool {
	if v.IsMarked() {
		v, _ = v.Unmark()
	}
	if !v.IsKnown() {
		return false
	}
	if v.IsNull() {
		return true
	}
	ty := v.Type()
	if fast && ty.IsObjectType() {
		attrs := ty.AttributeTypes()
		for name, r := range raw(v).(map[string]any) {
			if !WhollyKnown(of(attrs[name], r)) {
				return false
			}
		}
		return true
	}
	if v.CanIterateElements() {
		for it := v.ElementIterator(); it.Next(); {
			if _, e := it.Element(); !WhollyKnown(e) {
				return false
			}
		}
	}
	return true
}

// Attributes calls fn with each attribute of obj, a known object without
// marks that is not null, in no particular order, until fn returns false.
func Attributes(obj cty.Value, fn func(name string, v cty.Value) bool) {
	ty := obj.Type()
	if !fast {
		for name := range ty.AttributeTypes() {
			if !fn(name, obj.GetAttr(name)) {
				return
			}
		}
		return
	}
	attrs := ty.AttributeTypes()
	for name, r := range raw(obj).(map[string]any) {
		if !fn(name, of(attrs[name], r)) {
			return
		}
	}
}

// Attr is obj.GetAttr(name) for a name in normal form (ASCII, as
// attribute names of labform's schemas are): for a known object without
// marks, one look in its attributes rather than cty's normalization of
// the name and three.
func Attr(obj cty.Value, name string) cty.Value {
	if fast && !obj.IsMarked() && obj.IsKnown() && !obj.IsNull() && obj.Type().IsObjectType() {
		if r, ok := raw(obj).(map[string]any)[name]; ok {
			return of(obj.Type().AttributeType(name), r)
		}
	}
	return obj.GetAttr(name)
}
