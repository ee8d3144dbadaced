package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/labform/labform/internal/agent"
	"github.com/labform/labform/providers/all"
	"github.com/spf13/cobra"
)

// agentCommand is what labform starts on a remote host over SSH: the
// providers of this host, served on stdin and stdout to the labform at
// the other end of the session.
func (a *app) agentCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "agent",
		Short:  "Serve this host's providers on stdin and stdout (labform starts it over SSH)",
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("agent: -dir is required")
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			// The session closing ends the agent; a hang-up does not kill it
			// mid-action.
			signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
			// The requests' answers get stdout to themselves: whatever else
			// writes to fd 1 (a tool a provider runs) goes to stderr.
			fd, err := syscall.Dup(1)
			if err != nil {
				return err
			}
			if err := syscall.Dup3(2, 1, 0); err != nil {
				return err
			}
			out := os.NewFile(uintptr(fd), "agent-stdout")
			return agent.NewServer(dir, all.Providers()).Serve(os.Stdin, out)
		},
	}
	// Its subcommands, started in sessions of their own, take -dir too.
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "where this host's agent keeps its files")
	cmd.AddCommand(a.agentExecCommand(&dir), a.agentSyncCommand())
	return cmd
}

// agentExecCommand runs one command in a node of this host with the
// session's stdio: what `labform exec` and `console` on a node placed on
// a host start over SSH. Its exit status is the command's; when the
// command could not be run, it is agent.ExecFailed and the last line of
// stderr, after agent.ErrorMarker, says why.
func (a *app) agentExecCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:    "exec TOKEN",
		Short:  "Run a command in a node of this host (labform starts it over SSH)",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			fail := func(err error) error {
				fmt.Fprintf(a.io.err, "%s%v\n", agent.ErrorMarker, err)
				return exitError{agent.ExecFailed}
			}
			srv := agent.NewServer(*dir, all.Providers())
			req, err := srv.TakeExec(args[0])
			if err != nil {
				return fail(err)
			}
			// The session closing (the user's labform gone, a check's
			// timeout) hangs up: the command and what it started are
			// killed in the node, as a local exec's would be.
			ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGHUP, syscall.SIGTERM)
			defer cancel()
			if req.TTY {
				// Ctrl-C is the command's, through its terminal.
				signal.Ignore(syscall.SIGINT, syscall.SIGQUIT)
			}
			code, err := srv.Exec(ctx, req, a.io.in, a.io.out, a.io.err)
			if err != nil {
				return fail(err)
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}

// agentSyncCommand receives what this host lacks of a lab's directory, as
// a tar stream on stdin, at the path the lab has on the operator's
// machine.
func (a *app) agentSyncCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "sync LABDIR",
		Short:  "Receive a lab's files on this host (labform starts it over SSH)",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := agent.ReceiveLabFiles(args[0], a.io.in)
			return err
		},
	}
}
