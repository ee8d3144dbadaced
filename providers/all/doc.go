// Package all registers every real provider. The CLI uses it; tests of the
// generic engine build registries of their own.
//
// It is the only package that imports every provider
// implementation; nothing but commands imports it.
package all
