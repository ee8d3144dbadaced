// Package container is the provider of container resources: OCI bundles run
// by an OCI runtime (runc).
//
// It imports the providers contract and the shared helpers
// (labnet, mgmtnet, container/image, internal/ctyobj). It must never import
// config, planner, state or another provider.
package container
