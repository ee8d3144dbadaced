// Package labview builds the views of a running lab that its users read:
// the node and link table of `labform status` (text and JSON) and the
// topology picture of `labform graph -type=topology` (DOT, Mermaid, SVG,
// HTML).
//
// It owns the model that both views share (Lab: nodes with their ports,
// links with their members, firewall chains on their nodes) and how each
// is rendered. It does not read the lab: the caller hands it what a
// refresh found (planner.LiveObject), the evaluated configuration, and
// the providers, whose Describe gives each object's host names. It never
// changes anything.
//
// It imports config, config/addr, planner and the providers
// contract; never state or a provider implementation.
package labview
