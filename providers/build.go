package providers

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

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

// Unimplemented gives a provider whose schemas are declared (so validate
// and plan check labs against them) but which cannot touch the lab yet.
// Every call that would change or read the live lab fails and says so;
// nothing pretends to succeed.
type Unimplemented struct {
	ProviderName string
	Issue        string // where the work is tracked
}

func (u Unimplemented) err() error {
	return fmt.Errorf("the %s provider cannot act on a lab yet (its implementation is tracked in %s); validate and plan work, apply does not: %w",
		u.ProviderName, u.Issue, ErrNothingDone)
}

func (u Unimplemented) Configure(context.Context, ConfigureRequest) error { return nil }

// Read fails too: a provider that cannot look at the lab must not make the
// plan believe that everything vanished (use plan -refresh=false).
func (u Unimplemented) Read(_ context.Context, req ReadRequest) (ReadResponse, error) {
	return ReadResponse{}, u.err()
}
func (u Unimplemented) Create(context.Context, ApplyRequest) (ApplyResponse, error) {
	return ApplyResponse{}, u.err()
}
func (u Unimplemented) Update(context.Context, ApplyRequest) (ApplyResponse, error) {
	return ApplyResponse{}, u.err()
}
func (u Unimplemented) Delete(context.Context, ApplyRequest) error { return u.err() }
