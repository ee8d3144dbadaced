package providers

import (
	"context"

	"github.com/zclconf/go-cty/cty"
)

// ResolveRequest is one planned create or update, for Resolver.
type ResolveRequest struct {
	Lab  Lab
	Type string
	Addr string
	// Prior is the object's value in state (refreshed unless the plan was
	// made with -refresh=false); null for a create or a replacement.
	Prior   cty.Value
	Planned cty.Value
	// Refresh is false under -refresh=false: what the state recorded
	// stands for arguments that did not change.
	Refresh bool
}

// ResolveResponse is what the provider resolved.
type ResolveResponse struct {
	// Resolved sets computed attributes to the values resolved now (an
	// image's digest); the plan shows them and apply uses them.
	Resolved map[string]cty.Value
	// Cost, when set, is what the change must at least do although the
	// arguments alone do not say so, and Reason why: Replace when an
	// image's tag now names another digest, Restart or InPlace when a file
	// the lab supplies changed. Path is the attribute the plan marks.
	Cost   Cost
	Reason string
	Path   cty.Path
	// Exact says that Cost is the whole change's cost, even below what
	// the schema's costs make it: the provider judged every changed
	// attribute (a file changed with on_change is rewritten in place,
	// although a file's change restarts the node in the schema).
	Exact bool
}

// Resolver is implemented by providers whose arguments name something
// that can change outside the lab (a registry tag that moves). The
// planner calls it for every create and update, and for objects the plan
// keeps, after the diff.
type Resolver interface {
	Resolve(ctx context.Context, req ResolveRequest) (ResolveResponse, error)
}
