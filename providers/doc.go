// Package providers defines the contract between labform's generic engine
// and the code that talks to real tools (QEMU, VirtualBox, runc, netlink,
// netfilter), plus the registry that maps a resource type and provider name
// to an implementation.
//
// A provider knows its resource types' schemas and how to read, create,
// update and delete one instance. It never sees configuration files, state
// storage, addresses' graph or rendering: diff, ordering, parallelism and
// state writes live once in planner and state.
//
// It imports nothing of labform but internal/ctyobj (which imports
// nothing): every provider, config and the planner import it, and it must
// stay the leaf they share.
package providers
