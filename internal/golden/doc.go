// Package golden compares test output with files under testdata and
// rewrites them when tests run with -update.
//
// Test code only; it imports nothing of labform.
package golden
