// Command labform-graphviz reads a DOT graph on stdin and writes its
// layout as SVG on stdout, with the Graphviz built into it (no dot binary
// needed). labform runs it for graph -format=svg and -format=html; it is a
// program of its own so that labform's other commands do not pay for
// Graphviz's start (see internal/graphviz).
//
// It imports internal/graphviz and nothing else of labform.
package main
