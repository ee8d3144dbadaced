// Package planner compares the desired graph (config) with the lab as it
// is (state, refreshed through the providers), decides what to do to each
// resource instance and at what cost, renders that plan, and applies it by
// walking the dependency graph in parallel, writing state after every
// single action.
//
// Generic work lives here once: providers only read, create, update and
// delete one instance.
//
// It imports config, state, checks and the providers contract (and
// labnet for the lab namespace). It must never import cmd, planner/render
// or a provider implementation: providers reach it through the registry.
package planner
