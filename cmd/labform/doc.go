// Command labform is a declarative topology reconciler for network labs.
//
// It is the only package that prints, reads flags or exits. It
// must never import internal/memprovider (test code) or internal/graphviz
// (the layout runs in labform-graphviz); a test checks both.
package main
