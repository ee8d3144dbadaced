// Package memprovider is an in-memory (or file-backed) provider for tests
// of the generic engine. It takes the schemas of a real provider, so labs
// written for the real one plan and apply against it, and it keeps its
// objects in a map or, for tests that kill labform mid-apply, in a
// directory that outlives the process.
//
// Test code only: the labform binary never links it (a test checks).
//
// It imports only the providers contract.
package memprovider
