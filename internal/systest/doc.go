// Package systest helps system tests, which run real tools as root in
// namespaces and directories of their own.
//
// Test code only; it never imports cmd or a provider
// implementation.
package systest
