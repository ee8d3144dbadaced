package providers

import (
	"github.com/labform/labform/internal/ctyobj"
	"github.com/zclconf/go-cty/cty"
)

// Accessors for a resource's value, whose shape the schema fixes. A null
// or unknown attribute reads as the zero value.

// String reads a string attribute.
func String(v cty.Value, name string) string {
	a := ctyobj.Attr(v, name)
	if a.IsNull() || !a.IsKnown() {
		return ""
	}
	return a.AsString()
}

// Strings reads a list of strings.
func Strings(v cty.Value, name string) []string {
	a := ctyobj.Attr(v, name)
	if a.IsNull() || !a.IsKnown() {
		return nil
	}
	var out []string
	for _, e := range a.AsValueSlice() {
		out = append(out, e.AsString())
	}
	return out
}

// Number reads a number attribute.
func Number(v cty.Value, name string) float64 {
	a := ctyobj.Attr(v, name)
	if a.IsNull() || !a.IsKnown() {
		return 0
	}
	f, _ := a.AsBigFloat().Float64()
	return f
}

// Numbers reads a list of numbers.
func Numbers(v cty.Value, name string) []float64 {
	a := ctyobj.Attr(v, name)
	if a.IsNull() || !a.IsKnown() {
		return nil
	}
	var out []float64
	for _, e := range a.AsValueSlice() {
		f, _ := e.AsBigFloat().Float64()
		out = append(out, f)
	}
	return out
}
