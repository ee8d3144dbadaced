// Package checks runs a lab's check blocks against the live lab: ping and
// TCP probes from inside a node's network namespace, commands run in a
// container, and assertions on the state. apply runs them at its end and
// labform test runs them alone.
//
// It imports config, labnet and internal/par only: never the planner, state or a
// provider, so that a check sees the lab as a user would, from inside its
// namespaces.
package checks
