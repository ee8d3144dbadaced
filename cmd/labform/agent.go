package main

import (
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
	cmd.Flags().StringVar(&dir, "dir", "", "where this host's agent keeps its files")
	return cmd
}
