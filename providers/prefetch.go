package providers

import (
	"context"
	"io"

	"github.com/zclconf/go-cty/cty"
)

// PrefetchRequest lists a lab's instances of the provider's types, by
// address, for Prefetcher.
type PrefetchRequest struct {
	Values map[string]cty.Value // address -> value (unknown parts are skipped)
	Types  map[string]string    // address -> resource type
	// Out takes progress; on a terminal (Terminal) a line may be redrawn
	// in place, otherwise each line is final.
	Out      io.Writer
	Terminal bool
	// Quiet says nothing of what needs no fetch (apply's prefetch).
	Quiet bool
}

// Prefetcher is implemented by providers that fetch what a lab's objects
// need before apply does (container images): labform init calls it, once
// the provider is configured.
type Prefetcher interface {
	Prefetch(ctx context.Context, req PrefetchRequest) error
}
