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
//
// It imports nothing of labform.
package graphviz
