// Package imagetest builds small container images from the host's
// busybox-static for tests: no registry or network needed.
//
// Test code only; it imports nothing of labform.
package imagetest
