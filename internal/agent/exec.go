package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/gob"
	"fmt"
	"io"

	"github.com/labform/labform/providers"
)

// A command run in a node on a host needs the caller's stdio, which the
// RPC connection cannot carry: it runs in a session of its own, as
// `labform agent exec -dir DIR REQUEST`, with the session's stdin, stdout
// and stderr (and its pseudo-terminal when one is asked for). The request
// travels on the command line, gob-encoded in base64.

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

// EncodeExec is the request as one shell-safe word.
func EncodeExec(a ExecArgs) (string, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(a); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b.Bytes()), nil
}

// DecodeExec is EncodeExec's inverse.
func DecodeExec(s string) (ExecArgs, error) {
	var a ExecArgs
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return a, fmt.Errorf("the exec request is not base64: %w", err)
	}
	err = gob.NewDecoder(bytes.NewReader(b)).Decode(&a)
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
