package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	etcdstate "github.com/labform/labform/state/etcd"
	"github.com/spf13/cobra"
)

// opFlags are the flags of plan, apply and destroy.
type opFlags struct {
	vars        varFlags
	out         string
	detailed    bool
	refresh     bool
	refreshOnly bool
	destroy     bool
	targets     []string
	excludes    []string
	replace     []string
	json        bool
	parallelism int
	lockTimeout time.Duration
	lock        bool
	autoApprove bool
	checks      string // apply: fail, warn or off (checks.go)
}

// addCommon adds the flags plan, apply and destroy share, so that the
// three take them with the same names, defaults and help.
func (f *opFlags) addCommon(cmd *cobra.Command) {
	f.vars.add(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.refresh, "refresh", true, "read the live lab first; -refresh=false plans from state alone")
	fl.StringArrayVar(&f.targets, "target", nil, "plan only this resource or instance and what it needs (repeatable)")
	fl.StringArrayVar(&f.excludes, "exclude", nil, "leave out this resource or instance and what depends on it (repeatable)")
	fl.BoolVar(&f.json, "json", false, "machine-readable output")
	fl.IntVar(&f.parallelism, "parallelism", 10, "how many provider actions run at once")
	fl.DurationVar(&f.lockTimeout, "lock-timeout", 0, "how long to wait for another run's state lock")
	fl.BoolVar(&f.lock, "lock", true, "take the state's lock; plan -lock=false reads a snapshot of the state without it (apply and destroy always lock)")
}

func (a *app) planCommand() *cobra.Command {
	f := &opFlags{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change in the lab",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runPlan(cmd, f)
		},
	}
	f.addCommon(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "save the plan to this file, for apply FILE")
	fl.BoolVar(&f.detailed, "detailed-exitcode", false, "exit 2 when the plan has changes (0: none, 1: error)")
	fl.BoolVar(&f.refreshOnly, "refresh-only", false, "plan only to bring state in line with the live lab")
	fl.BoolVar(&f.destroy, "destroy", false, "plan to destroy everything")
	fl.StringArrayVar(&f.replace, "replace", nil, "plan to replace this instance even if unchanged (repeatable)")
	return cmd
}

func (a *app) applyCommand() *cobra.Command {
	f := &opFlags{}
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Make the lab match its configuration",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return a.runApplySaved(cmd, f, args[0])
			}
			return a.runApply(cmd, f)
		},
	}
	f.addCommon(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.autoApprove, "auto-approve", false, "apply without asking")
	fl.BoolVar(&f.refreshOnly, "refresh-only", false, "only bring state in line with the live lab")
	fl.BoolVar(&f.destroy, "destroy", false, "destroy everything")
	fl.StringArrayVar(&f.replace, "replace", nil, "replace this instance even if unchanged (repeatable)")
	fl.StringVar(&f.checks, "checks", "fail", "after applying, run the lab's check blocks: fail (a failed check exits 1), warn (report only) or off")
	return cmd
}

// destroyCommand is apply -destroy under its own name: the same session,
// plan, approval and progress, so that a destroy reads like any apply.
func (a *app) destroyCommand() *cobra.Command {
	f := &opFlags{destroy: true}
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Destroy everything the lab created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runApply(cmd, f)
		},
	}
	f.addCommon(cmd)
	cmd.Flags().BoolVar(&f.autoApprove, "auto-approve", false, "destroy without asking")
	return cmd
}

// session is a lab, its state and a planner, opened for one command.
type session struct {
	p     *planner.Planner
	close func()
}

// openSession loads the lab in dir and opens its state, locked under
// cmdName (which another run's refusal names). Only plan may run with
// -lock=false: it reads a snapshot; everything else writes.
func (a *app) openSession(cmdName string, f *opFlags, dir string) (*session, error) {
	lab, err := a.loadLabAt(dir)
	if err != nil {
		return nil, err
	}
	in, err := f.vars.inputs(a)
	if err != nil {
		return nil, err
	}
	var store state.Backend
	switch {
	case f.lock:
		store, err = a.openState(dir, cmdName, f.lockTimeout)
	case cmdName == "labform plan":
		store, err = a.readState(dir)
	default:
		err = fmt.Errorf("-lock=false works with plan and the commands that only read the state: %s writes it, and always takes its lock", strings.TrimPrefix(cmdName, "labform "))
	}
	if err != nil {
		return nil, err
	}
	p := &planner.Planner{Registry: a.reg, Store: store, Lab: lab, Inputs: in, Parallelism: f.parallelism}
	return &session{p: p, close: func() { store.Close() }}, nil
}

// planOptions turns the flags into the planner's options, parsing every
// address with config/addr, so that a typo in -target is an error before
// anything is planned.
func (f *opFlags) planOptions() (planner.PlanOptions, error) {
	opts := planner.PlanOptions{Mode: planner.NormalMode, Refresh: f.refresh}
	if f.destroy && f.refreshOnly {
		return opts, fmt.Errorf("-destroy and -refresh-only cannot be used together")
	}
	if f.destroy {
		opts.Mode = planner.DestroyMode
	}
	if f.refreshOnly {
		opts.Mode, opts.Refresh = planner.RefreshOnlyMode, true
	}
	var err error
	if opts.Targets, err = parseTargets(f.targets); err != nil {
		return opts, err
	}
	if opts.Excludes, err = parseTargets(f.excludes); err != nil {
		return opts, err
	}
	for _, s := range f.replace {
		ia, err := addr.ParseInstance(s)
		if err != nil {
			return opts, err
		}
		opts.Replace = append(opts.Replace, ia)
	}
	return opts, nil
}

// makePlan plans with the flags' options. -target=host.NAME and
// -exclude=host.NAME are turned into the resources placed on that host
// here (expandHostTargets): hosts are the CLI's way to select, not
// addresses the planner knows.
func (a *app) makePlan(ctx context.Context, s *session, f *opFlags) (*planner.Plan, error) {
	opts, err := f.planOptions()
	if err != nil {
		return nil, err
	}
	if opts.Targets, err = expandHostTargets(s.p.Lab, opts.Targets); err != nil {
		return nil, err
	}
	if opts.Excludes, err = expandHostTargets(s.p.Lab, opts.Excludes); err != nil {
		return nil, err
	}
	plan, diags := s.p.Plan(ctx, opts)
	if err := a.printDiags(diags, s.p.Lab.Parser.Files()); err != nil {
		return nil, err
	}
	return plan, nil
}

func (a *app) runPlan(cmd *cobra.Command, f *opFlags) error {
	return a.withPlan("labform plan", f, func(intr *interrupts, s *session, plan *planner.Plan) error {
		if err := a.show(planView{plan: plan, colors: a.colors()}, f.json); err != nil {
			return err
		}
		if f.out != "" {
			if err := planner.WritePlanFile(a.path(f.out), plan, s.p.Lab.Dir, plan.Desired.Vars, a.reg); err != nil {
				return fmt.Errorf("saving the plan: %w", err)
			}
			if err := a.show(savedPlanView{path: f.out}, f.json); err != nil {
				return err
			}
		}
		if f.detailed && plan.HasChanges() {
			return exitError{2}
		}
		return nil
	})
}

func (a *app) runApply(cmd *cobra.Command, f *opFlags) error {
	return a.withPlan("labform apply", f, func(intr *interrupts, s *session, plan *planner.Plan) error {
		if !f.json {
			// apply -json shows the plan as the events of its actions.
			a.show(planView{plan: plan, colors: a.colors()}, false)
		}
		if !plan.HasChanges() {
			// Nothing to do in the lab; drift found by the refresh is saved.
			// The text has said so in the plan; JSON says it in an event.
			a.show(eventView{level: "info", msg: "No changes", typ: "change_summary"}, f.json)
			return a.finishApply(s, plan, f, intr)
		}
		if !f.autoApprove {
			if !a.stdinTerminal() {
				return fmt.Errorf("no terminal to ask for approval: run with -auto-approve, or apply a saved plan (plan -out FILE, then apply FILE)")
			}
			what := "perform these actions"
			if plan.Mode == planner.DestroyMode {
				what = "destroy all the objects of this lab"
			}
			fmt.Fprintf(a.io.out, "\nDo you want to %s?\n  labform will do what the plan above says.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", what)
			answer := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(a.io.in).ReadString('\n')
				answer <- line
			}()
			var line string
			select {
			case line = <-answer:
			case <-intr.soft.Done():
				return intr.interrupted()
			}
			if strings.TrimSpace(line) != "yes" {
				fmt.Fprintln(a.io.out, "\nApply cancelled.")
				return exitError{1}
			}
			fmt.Fprintln(a.io.out)
		}
		return a.finishApply(s, plan, f, intr)
	})
}

// withPlan opens a session for cmdName, plans, and hands the plan to fn.
// An interrupt while planning ends the command (the plan may be partial);
// the session is closed when fn returns.
func (a *app) withPlan(cmdName string, f *opFlags, fn func(intr *interrupts, s *session, plan *planner.Plan) error) error {
	intr := a.catchInterrupts()
	defer intr.stop()
	s, err := a.openSession(cmdName, f, a.dir())
	if err != nil {
		return err
	}
	defer s.close()
	plan, err := a.makePlan(intr.soft, s, f)
	if ierr := intr.interrupted(); ierr != nil {
		return ierr
	}
	if err != nil {
		return err
	}
	return fn(intr, s, plan)
}

// runApplySaved applies a plan file as it was planned: no new plan, no
// question (the user approved by saving it). The lab is evaluated again
// with the plan's own inputs, which the apply's checks and outputs need.
func (a *app) runApplySaved(cmd *cobra.Command, f *opFlags, path string) error {
	intr := a.catchInterrupts()
	defer intr.stop()
	saved, err := planner.ReadPlanFile(a.path(path), a.reg)
	if err != nil {
		return err
	}
	s, err := a.openSession("labform apply "+path, f, saved.LabDir)
	if err != nil {
		return err
	}
	defer s.close()
	s.p.Inputs = saved.Inputs
	d, err := s.p.Evaluate()
	if err != nil {
		return err
	}
	saved.Plan.Desired = d
	return a.finishApply(s, saved.Plan, f, intr)
}

// finishApply applies with progress, handles Ctrl-C (see interrupts)
// and prints the result.
func (a *app) finishApply(s *session, plan *planner.Plan, f *opFlags, intr *interrupts) error {
	if err := intr.interrupted(); err != nil {
		return err
	}
	if !f.json {
		// Images the creates need, with progress (apply would fetch
		// them silently); a failure here is the create's to report.
		a.prefetchPlanned(intr.hard, s.p, plan)
	}
	intr.applying.Store(true)
	// The providers' context ends only at a second interrupt: after the
	// first, an action that has started finishes, so that its result is
	// recorded.
	stop := intr.soft
	var lost <-chan struct{}
	if l, ok := s.p.Store.(interface{ Lost() <-chan struct{} }); ok {
		// A shared state that can no longer be written (its lock's lease
		// was lost, or etcd is gone) stops the apply as a first interrupt
		// does: no new action starts, running ones finish.
		lost = l.Lost()
		ctx, cancel := context.WithCancel(intr.soft)
		defer cancel()
		go func() {
			select {
			case <-lost:
				fmt.Fprintf(a.io.err, "\nThe state can no longer be written to etcd: no new actions will start; running ones finish, and what they leave is kept in .labform/%s for the next run.\n", etcdstate.UnsavedFile)
				cancel()
			case <-ctx.Done():
			}
		}()
		stop = ctx
	}
	res, diags := s.p.Apply(intr.hard, plan, planner.ApplyOptions{Stop: stop, Hook: &uiHook{a: a, json: f.json, every: a.io.progressEvery}})
	if lost != nil {
		select {
		case <-lost:
			fmt.Fprintf(a.io.err, "\nError: labform could not write the state to etcd during this apply. The changes it could not write are kept in .labform/%s; the next labform run in this directory writes them before anything else.\n", etcdstate.UnsavedFile)
		default:
		}
	}
	if intr.hard.Err() != nil {
		defer fmt.Fprintln(a.io.err, "\nStopped at once by a second interrupt: the actions cut short are in the journal, and the next plan looks for what they left. Run plan, then apply, to finish.")
	}
	if err := a.printDiags(diags, s.p.Lab.Parser.Files()); err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		fmt.Fprintf(a.io.err, "\nError: %s\n", err)
		if len(res.Skipped) > 0 {
			fmt.Fprintf(a.io.err, "\nNot attempted because something they need failed: %s\n", strings.Join(res.Skipped, ", "))
		}
		return exitError{1}
	}
	if res.Stopped {
		fmt.Fprintf(a.io.err, "\nStopped: %d action(s) were not started (%s). State holds everything done so far; run apply again to finish.\n",
			len(res.NotStarted), strings.Join(res.NotStarted, ", "))
		return exitError{1}
	}
	v := applySummaryView{verb: "Apply", added: res.Added, changed: res.Changed, destroyed: res.Destroyed, bold: a.colors().Bold}
	if plan.Mode == planner.DestroyMode {
		v.verb = "Destroy"
	} else if !f.json {
		// The text lists the outputs after the counts; a program reads
		// them with output -json.
		var err error
		if v.outs, err = s.p.Store.Outputs(); err != nil {
			return err
		}
	}
	if err := a.show(v, f.json); err != nil {
		return err
	}
	return a.applyChecks(intr.soft, s, plan, f)
}

// progressEvery is how often apply says that a long action still runs,
// as Terraform does.
const progressEvery = 10 * time.Second

// uiHook prints apply's progress the way Terraform does.
type uiHook struct {
	a    *app
	json bool
	mu   sync.Mutex
	// every is the interval of "Still creating..." lines (progressEvery;
	// tests shorten it).
	every time.Duration
	// running holds a stop function per action under way.
	running map[string]func()
}

// verbs are what apply prints for a change: when it starts, while it
// runs (every 10 s), and when it ends.
func verbs(c *planner.Change) (start, still, done, failed string) {
	switch c.Action {
	case planner.Create:
		return "Creating...", "Still creating...", "Creation complete", "Creation failed"
	case planner.Delete:
		return "Destroying...", "Still destroying...", "Destruction complete", "Destruction failed"
	case planner.DeleteThenCreate, planner.CreateThenDelete:
		return "Replacing...", "Still replacing...", "Replacement complete", "Replacement failed"
	}
	if c.Cost == providers.Restart {
		return "Restarting...", "Still restarting...", "Restart complete", "Restart failed"
	}
	return "Modifying...", "Still modifying...", "Modifications complete", "Modifications failed"
}

// event shows one event of c, in the form -json asks for. Called with
// h.mu held, so that lines of parallel actions do not interleave.
func (h *uiHook) event(c *planner.Change, v eventView) {
	v.addr, v.bold = c.Addr.String(), h.a.colors().Bold
	if v.level == "" {
		v.level = "info"
	}
	h.a.show(v, h.json)
}

// PreApply says that an action starts, and starts its "Still ..." ticker.
func (h *uiHook) PreApply(c *planner.Change) {
	start, _, _, _ := verbs(c)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.startProgress(c)
	h.event(c, eventView{text: start, typ: "apply_start", hook: applyStartJSON{Resource: c.Addr.String(), Action: c.Action}})
}

// startProgress prints "addr: Still creating... [10s elapsed]" every
// interval until the action's PostApply. Called with h.mu held.
func (h *uiHook) startProgress(c *planner.Change) {
	every := h.every
	if every <= 0 {
		every = progressEvery
	}
	if h.running == nil {
		h.running = map[string]func(){}
	}
	_, still, _, _ := verbs(c)
	began := time.Now()
	stop := make(chan struct{})
	var once sync.Once
	h.running[c.Addr.String()] = func() { once.Do(func() { close(stop) }) }
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				el := now.Sub(began).Round(every)
				h.mu.Lock()
				select {
				case <-stop: // finished while this tick waited for the lock
				default:
					h.event(c, eventView{text: fmt.Sprintf("%s [%s elapsed]", still, el), typ: "apply_progress",
						hook: applyTimedJSON{Resource: c.Addr.String(), Action: c.Action, ElapsedSeconds: el.Seconds()}})
				}
				h.mu.Unlock()
			}
		}
	}()
}

// PostApply says how an action ended, after its ticker is stopped, so
// that no "Still ..." line comes after it.
func (h *uiHook) PostApply(c *planner.Change, err error, elapsed time.Duration) {
	_, _, done, failed := verbs(c)
	msg := done
	if err != nil {
		msg = failed
	}
	el := elapsed.Round(time.Second).String()
	h.mu.Lock()
	defer h.mu.Unlock()
	if stop, ok := h.running[c.Addr.String()]; ok {
		stop()
		delete(h.running, c.Addr.String())
	}
	typ, level := "apply_complete", "info"
	if err != nil {
		typ, level = "apply_errored", "error"
	}
	h.event(c, eventView{level: level, text: msg + " after " + el, typ: typ,
		hook: applyTimedJSON{Resource: c.Addr.String(), Action: c.Action, ElapsedSeconds: elapsed.Seconds()}})
}
