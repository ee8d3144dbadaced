// Package layers holds a test, and no code: that every package imports
// only the labform packages its doc comment allows. The layering it keeps
// is cmd above planner above config, state and providers, with no provider
// importing the planner, the state or another provider, so that each can
// be changed, tested and replaced alone.
//
// It imports nothing (its test reads the packages' sources with go/build).
package layers
