// Package ctyobj builds cty object values whose type is known beforehand
// (a schema's implied type, say) without cty.ObjectVal's copies.
//
// cty.ObjectVal takes a map of values and makes three more maps: the
// attributes' types, their normalized names (cty.Object), and the
// attributes' Go representations. For the 10,000s of objects of a large
// lab, all of one schema's type, that was a fifth of the memory a plan
// allocated. A Builder writes the representations into one map and gives
// the value the type it was made with, shared by every object built
// with it. The value is exactly what cty.ObjectVal would have made of the
// same attributes (RawEquals, the same type): when a value's type is not
// the attribute's type, or an attribute is missing or unknown to the
// type, the Builder makes it with cty.ObjectVal instead.
//
// cty offers no constructor that takes a type, so the value is put
// together through cty.Value's layout (its type and its Go
// representation). The layout is checked when the program starts, against
// cty.ObjectVal's own result; if another version of cty lays values out
// differently, every Builder uses cty.ObjectVal and nothing else changes.
//
// It imports nothing of labform.
package ctyobj
