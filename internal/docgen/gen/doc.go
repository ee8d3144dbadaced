// Command gen writes docs/providers/<name>.md for every provider (run by
// `make docs` through go generate).
//
// It imports internal/docgen and providers/all only.
package main
