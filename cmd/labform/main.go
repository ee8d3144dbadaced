package main

import (
	"os"

	"github.com/labform/labform/internal/gctune"
	"github.com/labform/labform/providers/all"
)

func main() {
	gctune.Set()
	os.Exit(run(os.Args[1:], all.Registry(), stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
}
