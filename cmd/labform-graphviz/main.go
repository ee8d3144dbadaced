// Command labform-graphviz reads a DOT graph on stdin and writes its
// layout as SVG on stdout, with the Graphviz built into it (no dot binary
// needed). labform runs it for graph -format=svg and -format=html; it is a
// program of its own so that labform's other commands do not pay for
// Graphviz's start (see internal/graphviz).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/labform/labform/internal/graphviz"
)

func main() {
	dot, err := io.ReadAll(os.Stdin)
	if err == nil {
		var svg []byte
		if svg, err = graphviz.SVG(context.Background(), dot); err == nil {
			_, err = os.Stdout.Write(svg)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "labform-graphviz: %v\n", err)
		os.Exit(1)
	}
}
