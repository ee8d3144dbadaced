// Package virtualbox is the provider of vm resources run by VirtualBox,
// driven through VBoxManage.
//
// It imports the providers contract and the shared helpers
// (labnet, mgmtnet, cidata, internal/par). It must never import config, planner, state or
// another provider.
package virtualbox
