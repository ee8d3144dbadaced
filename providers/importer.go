package providers

import (
	"context"

	"github.com/zclconf/go-cty/cty"
)

// Importer is a provider that can adopt an object made outside labform
// (`labform import`, import blocks).
type Importer interface {
	// Import finds the object that ImportID names and returns its value:
	// the configuration's (Planned) with what the provider reads from the
	// object, so that the next refresh compares the object with the
	// configuration and the plan shows only the differences. It changes
	// nothing on the host. A missing object, or one that cannot live at
	// the address (its name or place does not match the configuration),
	// is an error that says what was looked for and what was found.
	Import(ctx context.Context, req ImportRequest) (ImportResponse, error)
	// ImportIDForm says, in one sentence for the reference pages, what
	// the ID of an object of type typ looks like ("" when the type cannot
	// be imported).
	ImportIDForm(typ string) string
}

// ImportRequest asks a provider to adopt one object.
type ImportRequest struct {
	Type     string
	Addr     string
	ID       string    // the object ID labform records for it
	ImportID string    // what the user wrote: the provider's page says its form
	Planned  cty.Value // the configuration's value for the address
}

// ImportResponse is the adopted object.
type ImportResponse struct {
	State   cty.Value
	Private []byte
}

// Adopter is an Importer that marks an adopted object as its own when the
// import is applied (never at plan time): a VirtualBox VM gets the
// extradata that labform checks before it ever deletes a VM.
type Adopter interface {
	Adopt(ctx context.Context, req ApplyRequest) (ApplyResponse, error)
}
