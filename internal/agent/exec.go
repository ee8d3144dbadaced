package agent

import (
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/labform/labform/providers"
)

// A command run in a node on a host needs the caller's stdio, which the
// RPC connection cannot carry: it runs in a session of its own, as
// `labform agent exec -dir DIR TOKEN`, with the session's stdin, stdout
// and stderr (and its pseudo-terminal when one is asked for). The request
// was stashed first with the StashExec call; TOKEN names it.

// ExecArgs is one command to run in a node.
type ExecArgs struct {
	Configure ConfigureArgs
	IDs       map[string]string // address -> object ID, for IDOf
	Type      string
	Addr, ID  string
	Value     []byte
	Private   []byte
	Argv      []string
	TTY       bool
}

// ExecFailed is the exit status of `labform agent exec` when the command
// could not be run at all; ErrorMarker starts the line of stderr that
// says why, which the caller takes out of the command's stderr.
const (
	ExecFailed  = 125
	ErrorMarker = "\x00labform-agent-error\x00"
)

// TakeExec reads and removes the request StashExec kept under token.
func (s *Server) TakeExec(token string) (ExecArgs, error) {
	var a ExecArgs
	if token == "" || strings.ContainsAny(token, "/\x00") || strings.HasPrefix(token, ".") {
		return a, fmt.Errorf("exec: %q is not a request token", token)
	}
	path := filepath.Join(s.dir, "exec", token)
	f, err := os.Open(path)
	if err != nil {
		return a, fmt.Errorf("exec: the request %s: %w", token, err)
	}
	defer os.Remove(path)
	defer f.Close()
	err = gob.NewDecoder(f).Decode(&a)
	return a, err
}

// Exec configures the node's provider and runs the command with the given
// stdio; it returns the command's exit status.
func (s *Server) Exec(ctx context.Context, a ExecArgs, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	p, lab, err := s.configure(a.Configure)
	if err != nil {
		return ExecFailed, err
	}
	ex, ok := p.(providers.Execer)
	if !ok {
		return ExecFailed, fmt.Errorf("the %s provider cannot run commands in its nodes", a.Configure.Provider)
	}
	s.learn(a.IDs)
	v, err := Decode(a.Value)
	if err != nil {
		return ExecFailed, err
	}
	return ex.Exec(ctx, providers.ExecRequest{
		DescribeRequest: providers.DescribeRequest{Lab: lab, Type: a.Type, Addr: a.Addr, ID: a.ID, Value: v, Private: a.Private},
		Argv:            a.Argv, Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: a.TTY})
}
