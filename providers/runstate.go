package providers

import "github.com/zclconf/go-cty/cty"

// RunState is a node's state attribute: what the lab wants of its process
// (a container's init, a VM). It is a change of cost InPlace: a node is
// stopped, paused and started again without being replaced, so the
// provider must keep whatever the node owns (disks, its rootfs, its ports)
// across every state. Tools have words of their own (runc's "created",
// QMP's "prelaunch", VirtualBox's "saved"); a provider maps them onto
// these three when it reads a node.
type RunState string

const (
	// Running: the process runs. The default.
	Running RunState = "running"
	// Paused: the process exists but is frozen (cgroup freezer, QMP
	// stop, VirtualBox pause): memory kept, no CPU.
	Paused RunState = "paused"
	// Stopped: no process. What the node owns stays, so that starting it
	// again is not a create.
	Stopped RunState = "stopped"
)

// RunStates are the values the state attribute allows, for the schema.
var RunStates = []string{string(Running), string(Paused), string(Stopped)}

// StateOf reads a node value's state attribute; "" when it is null or not
// yet known.
func StateOf(v cty.Value) RunState { return RunState(String(v, "state")) }

// Live reports whether the state has a process: running or paused.
func (s RunState) Live() bool { return s == Running || s == Paused }

// Value is the state as an attribute value.
func (s RunState) Value() cty.Value { return cty.StringVal(string(s)) }

// StateAttribute is the state attribute of every node type.
func StateAttribute() *Attribute {
	return OptionalDefault(Running.Value(), InPlace, "running, stopped or paused").OneOf(RunStates...)
}
