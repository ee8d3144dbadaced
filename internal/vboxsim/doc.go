// Package vboxsim is a stand-in for VirtualBox's VBoxManage, for tests on
// machines where VirtualBox cannot be installed. It implements the
// subcommands the virtualbox provider uses (storagectl and storageattach
// for its config disk among them), with VirtualBox's output
// formats (showvminfo --machinereadable key="value" lines, list vms with
// names and {uuids}, list --long vms with each VM's human showvminfo
// block in VirtualBox 7.0's layout, list systemproperties, list hdds),
// its rules
// (settings that need a powered-off VM fail while it runs, controlvm needs
// a running VM, unknown names fail) with VirtualBox's error text, and its
// exit codes (1 for a failed command, 2 for bad syntax).
//
// Machines live in $VBOXSIM_HOME/machines.json; every call is appended to
// $VBOXSIM_HOME/calls.log (one line of arguments) so tests can pin the
// call sequence. A file $VBOXSIM_HOME/busy/<name> holding a count makes
// that many calls on the machine fail as if another session held its
// lock, the transient error a client must retry.
//
// Test code only; it imports nothing of labform, so that it cannot
// share a mistake with the provider it stands in for.
package vboxsim
