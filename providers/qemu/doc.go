// Package qemu is the provider of vm resources run by qemu-system, with
// disks from qemu-img and control over QMP.
//
// It imports the providers contract and the shared helpers
// (labnet, mgmtnet, cidata, internal/ctyobj). It must never import config,
// planner, state or another provider.
package qemu
