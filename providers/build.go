package providers

import "github.com/zclconf/go-cty/cty"

// Helpers that keep schema declarations to one line per attribute.

// Required is an argument the user must write.
func Required(t cty.Type, c Cost, desc string) *Attribute {
	return &Attribute{Type: t, Required: true, Cost: c, Description: desc}
}

// Optional is an argument the user may leave out.
func Optional(t cty.Type, c Cost, desc string) *Attribute {
	return &Attribute{Type: t, Optional: true, Cost: c, Description: desc}
}

// OptionalDefault is an optional argument with a default value.
func OptionalDefault(def cty.Value, c Cost, desc string) *Attribute {
	return &Attribute{Type: def.Type(), Optional: true, Default: def, Cost: c, Description: desc}
}

// Computed is set by the provider only.
func Computed(t cty.Type, desc string) *Attribute {
	return &Attribute{Type: t, Computed: true, Cost: InPlace, Description: desc}
}

// OptionalComputed is an argument that the provider fills in when the user
// leaves it out (a console port allocated at apply).
func OptionalComputed(t cty.Type, c Cost, desc string) *Attribute {
	return &Attribute{Type: t, Optional: true, Computed: true, Cost: c, Description: desc}
}
