package labnet

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"
)

// Output runs a command inside the named network namespace and returns
// its standard output. The calling goroutine's thread enters the
// namespace only for the fork (the child inherits it), so no `ip netns
// exec` process and no mount namespace are spent per call. cred, when
// set, runs the command as another user. A failure says what was run and
// what it answered on stderr.
func Output(ctx context.Context, nsName string, stdin []byte, cred *syscall.Credential, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := startIn(nsName, cmd); err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		return stdout.Bytes(), &CommandError{Netns: nsName, Argv: cmd.Args, Err: err, Stderr: strings.TrimSpace(stderr.String())}
	}
	return stdout.Bytes(), nil
}

// StartIn starts cmd inside the named network namespace; the caller waits.
func StartIn(nsName string, cmd *exec.Cmd) error { return startIn(nsName, cmd) }

func startIn(nsName string, cmd *exec.Cmd) error {
	if err := Within(nsName, cmd.Start); err != nil {
		return fmt.Errorf("%s (in netns %s): %w", strings.Join(cmd.Args, " "), nsName, err)
	}
	return nil
}

// Within runs fn with the calling goroutine's thread inside the named
// namespace, and puts the thread back. What fn creates there (a child
// process, a tap's file) belongs to that namespace. If the thread cannot
// be put back it stays locked, and dies with the goroutine rather than
// serve others from the wrong namespace.
func Within(nsName string, fn func() error) error {
	target, err := netns.GetFromName(nsName)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", nsName, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering network namespace %s: %w", nsName, err)
	}
	fnErr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("leaving network namespace %s: %w", nsName, err)
	}
	runtime.UnlockOSThread()
	return fnErr
}

// CommandError is a command that ran and failed: what was run, where, and
// what it said.
type CommandError struct {
	Netns  string
	Argv   []string
	Err    error
	Stderr string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s (in netns %s): %v: %s", strings.Join(e.Argv, " "), e.Netns, e.Err, e.Stderr)
}

func (e *CommandError) Unwrap() error { return e.Err }
