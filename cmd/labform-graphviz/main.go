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
