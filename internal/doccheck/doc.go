// Package doccheck checks the repository's Markdown documentation: that it
// speaks to users (no issue numbers, no files outside the repository) and
// that its relative links lead to files that exist.
//
// It imports nothing of labform.
package doccheck
