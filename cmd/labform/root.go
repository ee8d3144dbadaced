package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// Version is set by the build (-ldflags "-X main.Version=...").
var Version = "0.1.0-dev"

// exitError carries an exit code through cobra. A command that has
// already told the user what went wrong (validate's diagnostics, a plan
// with errors) returns one, so that run exits with the code and prints
// nothing more.
type exitError struct{ code int }

// Error is for cobra's sake only: run reads the code and never prints it.
func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// stdio is where a run reads and writes. The commands a person runs
// never use os.Stdout and friends directly, so that tests run the CLI in
// process and read exactly what a user would see (the host agent, which
// speaks RPC on its own stdin and stdout, is the exception).
type stdio struct {
	in       io.Reader
	out, err io.Writer
	// terminal overrides terminal detection (tests).
	terminal *bool
	// progressEvery overrides how often apply says an action still runs
	// (tests); 0 means every 10 s.
	progressEvery time.Duration
}

// app is what every command shares: no package-level settings.
type app struct {
	reg     *providers.Registry
	io      stdio
	chdir   string
	noColor bool
	// lab is the lab this run loaded without errors: the state is opened
	// by its backend block, without reading its files a second time.
	lab *config.Lab
}

// run parses args and runs the command; it returns the exit code.
func run(args []string, reg *providers.Registry, io stdio) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(io.err, "\nError: labform crashed: %v\n\nThis is a bug in labform. Please report it with the command you ran and your lab files.\n", r)
			code = 1
		}
	}()
	a := &app{reg: reg, io: io}
	root := a.rootCommand()
	root.SetArgs(normalizeArgs(args))
	root.SetIn(io.in)
	root.SetOut(io.out)
	root.SetErr(io.err)
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(io.err, "Error: %s\n", err)
		return 1
	}
}

// normalizeArgs accepts Terraform's single-dash long flags (-out=FILE,
// -auto-approve) by turning them into the double-dash form cobra parses.
//
// exec's command is the user's, not labform's: what follows the node's
// address is passed on as it is (labform exec c ls -l).
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	command := ""       // the subcommand, once seen
	takesValue := false // the previous flag takes the next argument
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		switch {
		case takesValue:
			takesValue = false
		case strings.HasPrefix(a, "-"):
			name := strings.TrimLeft(a, "-")
			takesValue = !strings.Contains(name, "=") && valueFlags[name]
		case command == "":
			command = a
		case command == "exec":
			// The node's address: the rest is the command's.
			return append(append(out, a), args[i+1:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && !(a[1] >= '0' && a[1] <= '9') {
			a = "-" + a
		}
		out = append(out, a)
	}
	return out
}

// valueFlags are the flags exec's arguments may hold before the address
// that take a value in the next argument.
var valueFlags = map[string]bool{"chdir": true, "var": true, "var-file": true}

// rootCommand builds the command tree for one run. Usage and errors are
// silenced in cobra: run prints an error once, in labform's own words,
// and a usage text after every failed apply would bury it.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "labform",
		Short: "Declarative topology reconciler for network labs",
		Long: `labform reads a lab from *.lab.hcl files, compares it with the lab as it
runs, shows what would change (plan) and makes it so (apply).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.chdir, "chdir", ".", "the lab directory")
	root.PersistentFlags().BoolVar(&a.noColor, "no-color", false, "no colors in the output")
	root.AddCommand(a.initCommand(), a.validateCommand(), a.fmtCommand(), a.planCommand(), a.applyCommand(),
		a.destroyCommand(), a.testCommand(), a.showCommand(), a.stateCommand(), a.outputCommand(), a.graphCommand(), a.versionCommand(),
		a.statusCommand(), a.execCommand(), a.consoleCommand(), a.importCommand(), a.forceUnlockCommand(), a.agentCommand())
	return root
}

// dir is the lab directory, as -chdir gives it: every command reads the
// lab and its .labform from there, never from the process's own working
// directory.
func (a *app) dir() string { return a.chdir }

// path resolves a path given on the command line the way Terraform's
// -chdir does: relative to the lab directory.
func (a *app) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(a.chdir, p)
}

// isTerminal says whether f is a terminal.
func isTerminal(f interface{}) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	// A character device is not enough: /dev/null is one (exec's runc
	// would then ask for a terminal that is not there).
	_, err := unix.IoctlGetTermios(int(file.Fd()), unix.TCGETS)
	return err == nil
}

// stdinTerminal reports whether a person may answer a prompt (the apply
// confirmation). Tests decide it through a.io.terminal instead of a pty.
func (a *app) stdinTerminal() bool {
	if a.io.terminal != nil {
		return *a.io.terminal
	}
	return isTerminal(a.io.in)
}

// colors says whether output may carry ANSI colours: only on a terminal,
// and never with -no-color or NO_COLOR set.
func (a *app) colors() render.Colors {
	if a.noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	if a.io.terminal != nil {
		return render.Colors(*a.io.terminal)
	}
	return render.Colors(isTerminal(a.io.out))
}

// printDiags writes diagnostics with source snippets; it returns an
// exitError when there are errors.
func (a *app) printDiags(diags hcl.Diagnostics, files map[string]*hcl.File) error {
	if len(diags) == 0 {
		return nil
	}
	w := hcl.NewDiagnosticTextWriter(a.io.err, files, 78, bool(a.colors()))
	for _, d := range diags {
		w.WriteDiagnostic(d)
	}
	if diags.HasErrors() {
		return exitError{1}
	}
	return nil
}

// varFlags are the flags that give variables values.
type varFlags struct {
	vars     []string
	varFiles []string
}

func (v *varFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&v.vars, "var", nil, "set a variable: -var 'name=value' (repeatable)")
	cmd.Flags().StringArrayVar(&v.varFiles, "var-file", nil, "read variables from a file of name = value lines (repeatable)")
}

// inputs gathers the variable values in Terraform's order of precedence:
// the environment (LABFORM_VAR_*), then each -var-file, then each -var,
// a later source winning over an earlier one.
func (v *varFlags) inputs(a *app) (*config.Inputs, error) {
	in := config.NewInputs()
	in.AddEnv(os.Environ())
	for _, f := range v.varFiles {
		in.AddFile(a.path(f))
	}
	for _, kv := range v.vars {
		if err := in.AddFlag(kv); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// loadLab parses the lab directory and prints diagnostics.
func (a *app) loadLab() (*config.Lab, error) { return a.loadLabAt(a.dir()) }

// loadLabAt loads the lab in dir and prints its diagnostics, with source
// snippets, as soon as it has them: a lab that does not load never gets
// as far as the state or the providers.
func (a *app) loadLabAt(dir string) (*config.Lab, error) {
	lab, diags := config.Load(dir, a.reg)
	var files map[string]*hcl.File
	if lab != nil {
		files = lab.Parser.Files()
	}
	if err := a.printDiags(diags, files); err != nil {
		return nil, err
	}
	a.lab = lab
	return lab, nil
}

// statePath is the lab directory's state file (the default backend).
func statePath(dir string) string { return filepath.Join(dir, ".labform", "state.db") }

// openState opens the lab's state, taking its lock.
func (a *app) openState(dir, command string, lockTimeout time.Duration) (state.Backend, error) {
	return a.openBackend(dir, command, lockTimeout, false)
}

// readState opens a snapshot of the lab's state without taking the lock
// and without writing anything: for the commands that only read it, and
// plan -lock=false. It works on a read-only state and during an apply.
func (a *app) readState(dir string) (state.Backend, error) {
	return a.openBackend(dir, "", 0, true)
}

// stateError adds to a damaged state's error the command that restores
// the backup it names.
func (a *app) stateError(err error) error {
	var ce *state.CorruptError
	if !errors.As(err, &ce) {
		return err
	}
	if ce.Backup == nil {
		return fmt.Errorf("%w.\n\nIf this lab was never applied, nothing depends on this file: remove it (rm %s) and labform starts a new state. Otherwise the objects it recorded would no longer be tracked.", err, shellQuote(ce.Path))
	}
	cmd := "labform"
	if a.chdir != "." && a.chdir != "" {
		cmd += " -chdir=" + shellQuote(a.chdir)
	}
	cmd += " state restore"
	if ce.LineageDiffers() {
		cmd += " -force"
	}
	return fmt.Errorf("%w.\n\nTo restore it, run:\n    %s %s", err, cmd, shellQuote(filepath.Base(ce.Backup.Path)))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@%", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// parseTargets parses -target and -exclude values (config/addr owns the
// syntax): a resource selects all its instances, an instance one.
func parseTargets(ss []string) ([]addr.Target, error) {
	var out []addr.Target
	for _, s := range ss {
		t, err := addr.ParseTarget(s)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// matchAny reports whether the state address s is selected by one of ts;
// an address that does not parse (written by a newer labform) is not.
func matchAny(ts []addr.Target, s string) bool {
	ia, err := addr.ParseInstance(s)
	if err != nil {
		return false
	}
	for _, t := range ts {
		if t.Matches(ia) {
			return true
		}
	}
	return false
}

// lessAddr orders state addresses as plans list them (vm.a[2] before
// vm.a[10]), falling back to text order for one that does not parse.
func lessAddr(a, b string) bool {
	ia, err1 := addr.ParseInstance(a)
	ib, err2 := addr.ParseInstance(b)
	if err1 != nil || err2 != nil {
		return a < b
	}
	return ia.Less(ib)
}
