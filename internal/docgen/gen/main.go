package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/labform/labform/internal/docgen"
	"github.com/labform/labform/providers/all"
)

func main() {
	out := flag.String("out", "docs/providers", "the directory to write")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	reg := all.Registry()
	for _, p := range all.Providers() {
		path := filepath.Join(*out, p.Name()+".md")
		if err := os.WriteFile(path, docgen.Provider(reg, p), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}
