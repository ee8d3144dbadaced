package providers

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// ConsoleLogger is implemented by providers whose nodes' console output
// the engine can read, for ready gates (`console = "login:"`). A node's
// network namespace, when it has one, is its netns attribute; commands
// in it run through Execer.
type ConsoleLogger interface {
	// ConsoleLog is the file that receives what the node writes on its
	// console (a container's stdout and stderr, a VM's serial port), ""
	// when it has none.
	ConsoleLog(req DescribeRequest) string
}

// ExecOutput runs argv in a node through its provider's Execer without a
// terminal or input, within timeout, and returns what the command wrote
// (stdout and stderr together, in order) and its exit status. err is set
// only when the command could not be run at all or the timeout passed.
// Ready gates and check probes use it.
func ExecOutput(ctx context.Context, ex Execer, req DescribeRequest, argv []string, timeout time.Duration) ([]byte, int, error) {
	if len(argv) == 0 {
		return nil, -1, fmt.Errorf("exec: no command")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out bytes.Buffer
	code, err := ex.Exec(ctx, ExecRequest{DescribeRequest: req, Argv: argv, Stdout: &out, Stderr: &out})
	if ctx.Err() == context.DeadlineExceeded {
		return out.Bytes(), -1, fmt.Errorf("%s: %s gave no answer within %s", req.Addr, argv[0], timeout)
	}
	return out.Bytes(), code, err
}
