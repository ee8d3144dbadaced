package providers

import (
	"context"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// NodeRequest names one node (a vm or container object) for NodeAccess.
type NodeRequest struct {
	Type  string
	Addr  string
	ID    string    // the object's ID (identity.go)
	State cty.Value // its value as applied
}

// NodeAccess is implemented by providers whose nodes the engine can look
// into, for ready gates and check probes. A node's network namespace,
// when it has one, is its netns attribute.
type NodeAccess interface {
	// Exec runs argv in the node and returns its output (stdout and
	// stderr together) and exit status; err is set when the command could
	// not be run at all.
	Exec(ctx context.Context, req NodeRequest, argv []string, timeout time.Duration) (output []byte, exitCode int, err error)
	// ConsoleLog is the file that receives what the node writes on its
	// console (a container's stdout and stderr, a VM's serial port), ""
	// when it has none.
	ConsoleLog(req NodeRequest) string
}
