// Package config turns a directory of *.lab.hcl files into the desired
// graph: every resource instance's value, its dependencies, the outputs.
//
// It works in two phases, like HCL's "interdependent blocks" pattern:
// Load parses the files and checks their structure once per block (block
// and attribute names, meta-arguments, references to things that do not
// exist), keeping every source range; Evaluate then expands count and
// for_each in dependency order and evaluates each instance's expressions.
//
// Dependencies are found per instance, not per resource: every instance's
// value carries a cty mark naming it, marks travel through expressions and
// functions, and whatever marks end up in an instance's value are exactly
// the instances it used. link.x[3] thus depends on vm.leaf[3], not on all
// of vm.leaf, which keeps a 10,000-instance graph to thousands of edges.
//
// Mistakes in the lab are hcl.Diagnostics with file:line:col; bugs in
// labform panic (and the CLI turns a panic into a report, never a stack
// trace for a user).
//
// It imports config/addr, internal/ctyobj, internal/par and the providers
// contract (schemas, never a provider implementation). It must never
// import planner, state or cmd: configuration is decided before anything
// is read from the lab.
package config
