// Package addr holds resource addresses: vm.spine, vm.leaf[1],
// container.host["a"]. They are comparable values, used as map keys, state
// keys, graph vertex names and in every message to the user.
//
// It imports nothing of labform: every other package may use
// addresses.
package addr
