// Package docgen writes docs/providers/<name>.md from the providers'
// schemas, so that the reference never says what the code does not:
// every attribute with its type, whether it is required, optional or
// computed, its default, its allowed values and what changing it costs a
// running object. `make docs` runs it; a test fails when a file is stale.
//
// It imports only the providers contract: the reference is written
// from the schemas alone.
package docgen
