// Package graphviz lays out a DOT graph as SVG with the Graphviz that
// github.com/goccy/go-graphviz compiles to WebAssembly and runs in Go (no
// dot binary, no cgo).
//
// IMPORTANT: the labform binary must not link this package (a test
// checks). go-graphviz compiles its WebAssembly in a package init, in
// every process that links it, before main runs: 1.4 s on a cold cache
// and 40 ms on a warm one for any command, a cache under $TMPDIR whose
// files another user cannot read (the init then panics), and 13 MB more
// binary. So the layout runs in a helper, cmd/labform-graphviz, which
// labform starts only for graph -format=svg and -format=html.
package graphviz

import (
	"bytes"
	"context"
	"fmt"

	gv "github.com/goccy/go-graphviz"
)

// SVG lays out dot and renders it as SVG.
func SVG(ctx context.Context, dot []byte) ([]byte, error) {
	g, err := gv.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting the built-in Graphviz: %w", err)
	}
	defer g.Close()
	graph, err := gv.ParseBytes(dot)
	if err != nil {
		return nil, fmt.Errorf("the built-in Graphviz refused the DOT: %w", err)
	}
	defer graph.Close()
	var out bytes.Buffer
	if err := g.Render(ctx, graph, gv.SVG, &out); err != nil {
		return nil, fmt.Errorf("laying out the graph: %w", err)
	}
	return out.Bytes(), nil
}
