package main

import (
	"context"
	"fmt"
	"time"

	"github.com/labform/labform/checks"
	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/spf13/cobra"
)

// testFlags are the flags of labform test.
type testFlags struct {
	vars  varFlags
	junit string
	json  bool
	only  []string
}

func (a *app) testCommand() *cobra.Command {
	f := &testFlags{}
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Run the lab's check blocks against the live lab",
		Long: `test runs the lab's check blocks (ping, tcp, exec and assert probes) against
the lab as it runs, without changing anything. It exits 0 when every check
passes and 1 when any fails; -junit-xml writes a report CI systems read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runTest(f)
		},
	}
	f.vars.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.junit, "junit-xml", "", "write the results to this file as JUnit XML")
	fl.BoolVar(&f.json, "json", false, "machine-readable output")
	fl.StringArrayVar(&f.only, "only", nil, "run only this check (repeatable)")
	return cmd
}

func (a *app) runTest(f *testFlags) error {
	intr := a.catchInterrupts()
	defer intr.stop()
	lab, err := a.loadLab()
	if err != nil {
		return err
	}
	names, err := checks.Select(lab, f.only)
	if err != nil {
		return err
	}
	in, err := f.vars.inputs(a)
	if err != nil {
		return err
	}
	store, err := a.readState(a.dir())
	if err != nil {
		return err
	}
	defer store.Close()
	p := &planner.Planner{Registry: a.reg, Store: store, Lab: lab, Inputs: in}
	desired, err := p.Evaluate()
	if err != nil {
		return err
	}
	return a.runChecks(intr.soft, p, desired, names, f.json, f.junit, true)
}

// runChecks runs the named checks and reports them: a table (or JSON), and
// a JUnit file when junit is set. It returns exitError{1} when a check
// fails and fail is set.
func (a *app) runChecks(ctx context.Context, p *planner.Planner, desired *config.Desired, names []string, asJSON bool, junit string, fail bool) error {
	env, err := p.CheckEnv(ctx, desired)
	if err != nil {
		return err
	}
	started := time.Now()
	if !asJSON && len(names) > 0 {
		fmt.Fprintf(a.io.out, "Running %d check(s)...\n\n", len(names))
	}
	results := checks.Run(ctx, env, names)
	if ctx.Err() != nil {
		return intrErr(ctx)
	}
	if err := a.show(testView{results: results, none: len(names) == 0, bold: a.colors().Bold}, asJSON); err != nil {
		return err
	}
	if !asJSON {
		for _, r := range results {
			if !r.Passed {
				fmt.Fprintf(a.io.err, "\nError: check %q failed (%s): %s\n", r.Name, r.Location(), r.Message)
			}
		}
	}
	// The report after the results are shown: a file that cannot be
	// written must not hide them.
	if junit != "" {
		if err := checks.WriteJUnit(a.path(junit), p.Lab.Name, started, results); err != nil {
			return fmt.Errorf("writing the JUnit report: %w", err)
		}
	}
	if fail && checks.Failed(results) > 0 {
		return exitError{1}
	}
	return nil
}

// intrErr says the checks were cut short, and why (context.Cause): an
// interrupted run must not read as a failed check.
func intrErr(ctx context.Context) error {
	return fmt.Errorf("interrupted: the checks were stopped (%v)", context.Cause(ctx))
}

// applyChecks runs the lab's checks at the end of an apply that went
// well, everything being applied and saved: a failed check exits 1 unless
// -checks=warn. A destroy, a refresh-only apply and -checks=off run none.
func (a *app) applyChecks(ctx context.Context, s *session, plan *planner.Plan, f *opFlags) error {
	switch f.checks {
	case "", "fail", "warn":
	case "off":
		return nil
	default:
		return fmt.Errorf("-checks is fail, warn or off, not %q", f.checks)
	}
	if plan.Mode != planner.NormalMode || len(s.p.Lab.CheckOrder) == 0 || plan.Desired == nil {
		return nil
	}
	if f.json {
		env, err := s.p.CheckEnv(ctx, plan.Desired)
		if err != nil {
			return err
		}
		results := checks.Run(ctx, env, s.p.Lab.CheckOrder)
		for _, r := range results {
			level := "info"
			if !r.Passed {
				level = "error"
			}
			a.show(eventView{level: level, msg: fmt.Sprintf("check %s: %s", r.Name, map[bool]string{true: "passed", false: "failed: " + r.Message}[r.Passed]), typ: "check_result", hook: r}, true)
		}
		if f.checks != "warn" && checks.Failed(results) > 0 {
			return exitError{1}
		}
		return nil
	}
	fmt.Fprintln(a.io.out)
	return a.runChecks(ctx, s.p, plan.Desired, s.p.Lab.CheckOrder, false, "", f.checks != "warn")
}

// Waiting shows that a node's ready gate still waits.
func (h *uiHook) Waiting(c *planner.Change, pending string, elapsed time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	still := fmt.Sprintf("Still waiting to be ready (%s) [%s elapsed]", pending, elapsed.Round(time.Second))
	v := eventView{text: still, typ: "ready_progress", hook: readyProgressJSON{Resource: c.Addr.String(), Pending: pending, ElapsedSeconds: elapsed.Seconds()}}
	if elapsed < time.Second {
		// The first line a person sees has no elapsed time to tell; a
		// program gets the same fields in every ready_progress event.
		v.text = fmt.Sprintf("Waiting to be ready (%s)...", pending)
		v.msg = c.Addr.String() + ": " + still
	}
	h.event(c, v)
}
