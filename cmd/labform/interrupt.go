package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// hardStopGrace is how long labform waits, after a second interrupt, for
// the actions it cancelled to return (their tools' process groups are
// killed at once) before it exits anyway.
const hardStopGrace = 5 * time.Second

// interrupts turns SIGINT and SIGTERM into two stages. They are caught
// from the start of a command, so that a Ctrl-C during the refresh is
// labform's to handle, never the default death.
//
//   - The first ends soft: the refresh (tool calls that only read) is
//     cancelled, and during an apply no new action starts while running
//     ones finish and are recorded.
//   - The second (Ctrl-C again, or SIGTERM after a first) ends hard: the
//     providers' context is cancelled, so every running tool's process
//     group is killed, what is known goes to state (the journal entries of
//     the cut actions stay open, so the next plan looks for what they
//     left), and labform exits 1. If that takes longer than hardStopGrace,
//     or a third signal comes, labform exits at once: state is written
//     after every single action, so nothing recorded is lost.
type interrupts struct {
	soft, hard context.Context
	applying   atomic.Bool // the apply's walk has begun: the first message says so
	a          *app
	stop       func()
}

// catchInterrupts takes SIGINT and SIGTERM from the default handler for
// the command's run; stop gives them back. Without it, Ctrl-C would kill
// labform between an action's start and its record in state.
func (a *app) catchInterrupts() *interrupts {
	soft, softCancel := context.WithCancel(context.Background())
	hard, hardCancel := context.WithCancel(context.Background())
	i := &interrupts{soft: soft, hard: hard, a: a}
	sigs := make(chan os.Signal, 4)
	done := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	i.stop = func() {
		signal.Stop(sigs)
		close(done)
		softCancel()
		hardCancel()
	}
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				n++
				switch n {
				case 1:
					if i.applying.Load() {
						fmt.Fprintf(a.io.err, "\nInterrupt received (%s): no new actions will start; waiting for running ones to finish and saving state... (interrupt again to stop at once)\n", sig)
					} else {
						fmt.Fprintf(a.io.err, "\nInterrupt received (%s): stopping.\n", sig)
					}
					softCancel()
				case 2:
					fmt.Fprintf(a.io.err, "\nSecond interrupt (%s): stopping at once; the running tools are killed. State keeps what is known, and the next plan looks for what the cut actions left.\n", sig)
					softCancel()
					hardCancel()
					go func() {
						select {
						case <-done:
						case <-time.After(hardStopGrace):
							fmt.Fprintf(a.io.err, "\nlabform did not stop within %s of the second interrupt; exiting now. Run plan to see where the lab stands.\n", hardStopGrace)
							os.Exit(1)
						}
					}()
				default:
					fmt.Fprintf(a.io.err, "\nInterrupted again (%s): exiting now. Run plan to see where the lab stands.\n", sig)
					os.Exit(1)
				}
			}
		}
	}()
	return i
}

// interrupted is the error of a command cut short by the first interrupt
// before its apply began.
func (i *interrupts) interrupted() error {
	if i.soft.Err() == nil {
		return nil
	}
	fmt.Fprintln(i.a.io.err, "\nInterrupted: nothing in the lab was changed.")
	return exitError{1}
}
