package labnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/labform/labform/providers"
	"github.com/vishvananda/netns"
)

// DefaultToolTimeout bounds one call of an external tool when the
// provider passes none: providers.DefaultToolTimeout, the schema's
// default for tool_timeout, as a duration.
var DefaultToolTimeout = func() time.Duration {
	d, err := time.ParseDuration(providers.DefaultToolTimeout)
	if err != nil {
		panic("providers.DefaultToolTimeout: " + err.Error())
	}
	return d
}()

// waitDelay is how long Run waits for a tool's output pipes to close once
// the tool itself has exited or been killed: a process that left the
// tool's process group (runc's container init, QEMU's daemon) may hold
// them, and must not hold labform.
const waitDelay = 2 * time.Second

// Tool is one call of an external program: runc, iptables-restore,
// qemu-img, qemu-system, VBoxManage. Every provider runs its tools through
// Run, so that every call is bounded and killed the same way.
type Tool struct {
	Name string
	Args []string
	// Netns, when set, runs the program inside that network namespace.
	Netns string
	Stdin []byte
	// StdinReader, when set, is streamed to the program's standard input
	// (an image's layers into tar): for input too large to hold.
	StdinReader io.Reader
	// Stdout and Stderr, when set, take the program's output instead of
	// the buffers Run reads. A program that hands its stdio to what it
	// starts (runc run --detach, QEMU) must get files here: a pipe would
	// stay open as long as the container or VM runs.
	Stdout, Stderr io.Writer
	ExtraFiles     []*os.File
	// Cred, when set, runs the program as another user.
	Cred *syscall.Credential
	// Timeout bounds the call; 0 means DefaultToolTimeout.
	Timeout time.Duration
}

// Run runs the tool and returns its standard output. Standard error is
// read apart, so that a warning never spoils output that is parsed (runc's
// JSON), and a failure carries it: what was run, where, and what it said.
//
// The tool runs in a process group of its own. When the timeout passes or
// ctx is done (a second Ctrl-C), the whole group gets SIGKILL, so that a
// helper the tool started does not outlive it; the error then says that
// it timed out, after how long, or that it was interrupted. Being in its
// own group also keeps a terminal's Ctrl-C, which goes to labform's
// group, from killing a tool mid-write: labform decides what is killed.
func Run(ctx context.Context, t Tool) ([]byte, error) {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultToolTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, t.Name, t.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: t.Cred}
	cmd.Cancel = func() error {
		// The group's id is the tool's pid (Setpgid with Pgid 0).
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	if t.Stdin != nil {
		cmd.Stdin = bytes.NewReader(t.Stdin)
	} else if t.StdinReader != nil {
		cmd.Stdin = t.StdinReader
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if t.Stdout != nil {
		cmd.Stdout = t.Stdout
	}
	if t.Stderr != nil {
		cmd.Stderr = t.Stderr
	}
	cmd.ExtraFiles = t.ExtraFiles
	var err error
	if t.Netns != "" {
		err = startIn(t.Netns, cmd)
	} else if err = cmd.Start(); err != nil {
		err = fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	if err != nil {
		if ctx.Err() != nil { // never started: labform was already stopping
			return nil, &CommandError{Netns: t.Netns, Argv: cmd.Args, Err: err, Interrupted: true}
		}
		return nil, err
	}
	err = cmd.Wait()
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success() && tctx.Err() == nil {
		// The tool succeeded; something it started keeps the pipe.
		err = nil
	}
	if err == nil {
		return stdout.Bytes(), nil
	}
	ce := &CommandError{Netns: t.Netns, Argv: cmd.Args, Err: err, Stderr: strings.TrimSpace(stderr.String())}
	switch {
	case ctx.Err() != nil:
		ce.Interrupted = true
	case tctx.Err() != nil:
		ce.TimedOut = timeout
	}
	return stdout.Bytes(), ce
}

// Output runs a command inside the named network namespace and returns
// its standard output, bounded by DefaultToolTimeout (see Run). cred,
// when set, runs the command as another user. The calling goroutine's
// thread enters the namespace only for the fork (the child inherits it),
// so no `ip netns exec` process and no mount namespace are spent per call.
func Output(ctx context.Context, nsName string, stdin []byte, cred *syscall.Credential, name string, args ...string) ([]byte, error) {
	return Run(ctx, Tool{Name: name, Args: args, Netns: nsName, Stdin: stdin, Cred: cred})
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
	return WithinHandle(target, nsName, fn)
}

// WithinHandle is Within for a namespace already open, such as the
// host's, kept before a thread moved (name is what its errors call it).
// The thread stays locked if it cannot be moved back: a thread left in
// the wrong namespace must not run other goroutines.
func WithinHandle(target netns.NsHandle, name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering network namespace %s: %w", name, err)
	}
	fnErr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("leaving network namespace %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	return fnErr
}

// CommandError is a command that ran and failed: what was run, where,
// and what it said; or that it was killed because it took too long or
// labform was interrupted.
type CommandError struct {
	Netns  string
	Argv   []string
	Err    error
	Stderr string
	// TimedOut, when not 0, is the timeout after which the tool's process
	// group was killed.
	TimedOut time.Duration
	// Interrupted says the tool's process group was killed because labform
	// was stopped (a second Ctrl-C).
	Interrupted bool
}

func (e *CommandError) Error() string {
	var b strings.Builder
	b.WriteString(strings.Join(e.Argv, " "))
	if e.Netns != "" {
		fmt.Fprintf(&b, " (in netns %s)", e.Netns)
	}
	switch {
	case e.TimedOut > 0:
		fmt.Fprintf(&b, ": timed out after %s (the provider's tool_timeout); its process group was killed", e.TimedOut)
	case e.Interrupted:
		b.WriteString(": interrupted; its process group was killed")
	default:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Stderr != "" {
		b.WriteString(": " + e.Stderr)
	}
	return b.String()
}

func (e *CommandError) Unwrap() error { return e.Err }

// Attach runs an interactive program (runc exec, a shell) with the
// caller's stdio until it exits, and returns its exit code. Unlike Run it
// has no timeout (a shell lasts as long as its user wants) and stays in
// labform's process group, so that a terminal's Ctrl-C reaches it as it
// reaches labform; the caller keeps labform alive through it. ctx ends it
// (SIGKILL). An error means the program could not be started or was
// killed; a command that failed returns its code and no error.
func Attach(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), nil
	case errors.As(err, &ee):
		return 128 + int(ee.Sys().(syscall.WaitStatus).Signal()), fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return 1, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
}

// PTY is a program running on a pseudo-terminal: reading and writing it
// are the program's terminal output and input. Close ends the program
// (SIGKILL to its process group) and waits for it.
type PTY struct {
	*os.File
	cmd *exec.Cmd
}

// StartPTY starts an interactive program (a container's shell through
// runc exec -t) on a new pseudo-terminal of the given size (0 keeps the
// default). Like Attach it has no timeout: it lasts until Close.
func StartPTY(name string, args []string, rows, cols uint16) (*PTY, error) {
	cmd := exec.Command(name, args...)
	var size *pty.Winsize
	if rows > 0 && cols > 0 {
		size = &pty.Winsize{Rows: rows, Cols: cols}
	}
	f, err := pty.StartWithSize(cmd, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return &PTY{File: f, cmd: cmd}, nil
}

// Close ends the program and releases the terminal.
func (p *PTY) Close() error {
	if p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // pty.Start makes it a session leader
		p.cmd.Process.Kill()
	}
	err := p.File.Close()
	p.cmd.Wait()
	return err
}
