// Package gctune sets the garbage collector's targets from the memory the
// process may use: a lab of 10,000 resources allocates gigabytes of
// short-lived parse trees and values, and at Go's default target the
// collector spent a quarter of validate's time.
//
// It imports nothing of labform.
package gctune
