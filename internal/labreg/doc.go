// Package labreg records which labs have objects on this host, one file
// per lab name: two labs of one name would share the lab namespace
// (lf-<name>) and the names derived from it, so the second is refused
// before it touches anything. The records live under /run, which a reboot
// empties together with the namespaces and processes they speak of.
//
// It imports nothing of labform.
package labreg
