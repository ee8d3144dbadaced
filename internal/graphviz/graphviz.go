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
