// Package mgmtnet is the provider of a lab's management network: a bridge
// in the host's namespace that every node of the lab has one interface
// on, with the host's address on it and a hosts file for the containers.
// The lab writes it as lab { management { ... } }; config turns that into
// the resource management_network.lab, which every vm and container
// depends on (see providers/mgmt.go). The node providers call this
// package's host functions (AttachContainer, OpenTap, AttachHostVeth) to
// give their nodes the interface.
//
// Without a management block none of this exists, and labform changes
// nothing in the host's namespace.
//
// It imports the providers contract and labnet. It must never
// import config, planner, state or another provider; node providers import
// its host functions.
package mgmtnet
