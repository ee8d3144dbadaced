// Package link is the provider of link resources: wires and segments
// between nodes' ports in the lab's network namespace.
//
// It imports the providers contract and labnet. It must never
// import config, planner, state or another provider.
package link
