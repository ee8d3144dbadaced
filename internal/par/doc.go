// Package par runs independent work on every core.
//
// It imports nothing of labform.
package par
