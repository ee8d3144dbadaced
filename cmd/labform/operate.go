package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/console"
	"github.com/labform/labform/internal/labview"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// The commands that operate a running lab: status, exec, console. They
// read the state without its lock (as show does) and change nothing of
// the lab's record.

// view is a lab opened to be looked at: its configuration evaluated with
// the command's variables, its state read without the lock.
type view struct {
	p     *planner.Planner
	close func()
}

// openView loads the lab and reads its state without the lock: status,
// exec and console change nothing, so they must work while an apply
// holds the lock (to look at what it is doing).
func (a *app) openView(vf *varFlags) (*view, error) {
	lab, err := a.loadLab()
	if err != nil {
		return nil, err
	}
	in, err := vf.inputs(a)
	if err != nil {
		return nil, err
	}
	store, err := a.readState(a.dir())
	if err != nil {
		return nil, err
	}
	p := &planner.Planner{Registry: a.reg, Store: store, Lab: lab, Inputs: in}
	return &view{p: p, close: func() { store.Close() }}, nil
}

// live refreshes the lab (unless refresh is false) and builds the model.
func (a *app) live(ctx context.Context, v *view, refresh bool) ([]planner.LiveObject, *labview.Lab, error) {
	objs, desired, diags := v.p.Live(ctx, refresh)
	if err := a.printDiags(diags, v.p.Lab.Parser.Files()); err != nil {
		return nil, nil, err
	}
	lab := labview.Build(labview.Input{Lab: v.p.LabInfo(""), LabOf: v.p.LabInfo, Registry: a.reg, Live: objs, Desired: desired})
	return objs, lab, nil
}

func (a *app) statusCommand() *cobra.Command {
	var asJSON, refresh bool
	vf := &varFlags{}
	cmd := &cobra.Command{
		Use:     "status",
		Aliases: []string{"inspect"},
		Short:   "Show every node and link of the running lab, as it is now",
		Long: `status reads the lab as it runs (a refresh, as plan does, that changes
nothing) and shows each node's state, pid, image, management address and
console, each port's interface names inside the node and on the host side
and the link and peer it goes to, and each link's members, impairment and
state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			intr := a.catchInterrupts()
			defer intr.stop()
			v, err := a.openView(vf)
			if err != nil {
				return err
			}
			defer v.close()
			_, lab, err := a.live(intr.soft, v, refresh)
			if ierr := intr.interrupted(); ierr != nil {
				return ierr
			}
			if err != nil {
				return err
			}
			return a.show(statusView{lab: lab}, asJSON)
		},
	}
	vf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	cmd.Flags().BoolVar(&refresh, "refresh", true, "read the live lab; -refresh=false shows what state recorded")
	readOnlyLockFlag(cmd)
	return cmd
}

// node finds a node of the lab by address, as refresh found it.
func (a *app) node(ctx context.Context, v *view, address string) (*planner.LiveObject, providers.Provider, error) {
	want, err := addr.ParseInstance(address)
	if err != nil {
		return nil, nil, fmt.Errorf("%q is not a node's address (like container.host[0] or vm.router): %w", address, err)
	}
	objs, _, err := a.live(ctx, v, true)
	if err != nil {
		return nil, nil, err
	}
	for i := range objs {
		o := &objs[i]
		if o.Addr != want {
			continue
		}
		if o.Value.IsNull() {
			return nil, nil, fmt.Errorf("%s is gone (deleted outside labform): run apply to create it again", address)
		}
		prov, diags := v.p.ConfiguredProvider(ctx, o.Provider)
		if err := a.printDiags(diags, v.p.Lab.Parser.Files()); err != nil {
			return nil, nil, err
		}
		return o, prov, nil
	}
	var nodes []string
	for _, o := range objs {
		if sch, err := a.reg.Schema(o.Provider, o.Type); err == nil && sch.PortsAttr != "" {
			nodes = append(nodes, o.Addr.String())
		}
	}
	if len(nodes) == 0 {
		return nil, nil, fmt.Errorf("no node %s: the lab has no running nodes (run apply first)", address)
	}
	return nil, nil, fmt.Errorf("no node %s in the lab; its nodes are %s", address, strings.Join(nodes, ", "))
}

// onNode is the RunE of a command on one node (exec, console): it opens
// the lab to look at it, finds the node args[0] names as a refresh sees
// it, and runs fn on it.
func (a *app) onNode(vf *varFlags, fn func(ctx context.Context, v *view, o *planner.LiveObject, prov providers.Provider, args []string) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		ctx := context.Background()
		v, err := a.openView(vf)
		if err != nil {
			return err
		}
		defer v.close()
		o, prov, err := a.node(ctx, v, args[0])
		if err != nil {
			return err
		}
		return fn(ctx, v, o, prov, args)
	}
}

// describeRequest asks o's provider about o as refresh found it: the lab
// of o's provider (its working directory), and o's recorded ID, from
// which the provider derives every host name.
func (a *app) describeRequest(v *view, o *planner.LiveObject) providers.DescribeRequest {
	return providers.DescribeRequest{Lab: v.p.LabInfo(o.Provider), Type: o.Type, Addr: o.Addr.String(), ID: o.ID, Value: o.Value, Private: o.Private}
}

func (a *app) execCommand() *cobra.Command {
	vf := &varFlags{}
	cmd := &cobra.Command{
		Use:   "exec ADDRESS [-- COMMAND [ARGS...]]",
		Short: "Run a command in a node (its shell by default)",
		Long: `exec runs a command in a running container (runc exec; a terminal when
stdin is one), or in a QEMU VM that has a guest agent (guest_agent = true
and qemu-ga in the guest). The command's exit code is labform's. Without a
command it starts the node's shell.`,
		Args: cobra.MinimumNArgs(1),
		RunE: a.onNode(vf, func(ctx context.Context, v *view, o *planner.LiveObject, prov providers.Provider, args []string) error {
			ex, ok := prov.(providers.Execer)
			if !ok {
				return fmt.Errorf("%s is a %s of the %s provider, which cannot run commands in its nodes: use labform console %s", o.Addr, o.Type, o.Provider, o.Addr)
			}
			// Keys like Ctrl-C go to the command (through its terminal, or
			// to the foreground process group): labform waits for it.
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGQUIT)
			defer signal.Stop(sigs)
			// labform itself stopped (a CI job's timeout, kill, the
			// terminal gone) ends the command in the node too, which
			// would otherwise run on there with runc orphaned.
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			ends := make(chan os.Signal, 1)
			signal.Notify(ends, syscall.SIGTERM, syscall.SIGHUP)
			defer signal.Stop(ends)
			go func() {
				select {
				case <-ends:
					cancel()
				case <-ctx.Done():
				}
			}()
			argv := args[1:]
			if len(argv) > 0 && argv[0] == "--" {
				argv = argv[1:]
			}
			code, err := ex.Exec(ctx, providers.ExecRequest{DescribeRequest: a.describeRequest(v, o), Argv: argv,
				Stdin: a.io.in, Stdout: a.io.out, Stderr: a.io.err, TTY: a.stdinTerminal() && isTerminal(a.io.out)})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		}),
	}
	vf.add(cmd)
	// Everything after the address is the command's: labform exec c ls -l.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func (a *app) consoleCommand() *cobra.Command {
	vf := &varFlags{}
	cmd := &cobra.Command{
		Use:   "console ADDRESS",
		Short: "Attach the terminal to a node's console (Ctrl-] detaches)",
		Long: `console attaches the terminal to a VM's serial console (QEMU's telnet
port, VirtualBox's uart pipe) or to a container's shell. Ctrl-] detaches
and leaves the node running. labform status shows each console's endpoint,
to reach it without labform.`,
		Args: cobra.ExactArgs(1),
		RunE: a.onNode(vf, func(ctx context.Context, v *view, o *planner.LiveObject, prov providers.Provider, args []string) error {
			dr := a.describeRequest(v, o)
			var d providers.Description
			if ds, ok := prov.(providers.Describer); ok {
				d = ds.Describe(dr)
			}
			remote, err := a.openConsole(ctx, prov, dr, d)
			if err != nil {
				return err
			}
			where := d.Console.Command
			if where == "" {
				where = d.Console.Kind + " " + d.Console.Address
			}
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGQUIT)
			defer signal.Stop(sigs)
			err = console.Attach(remote, console.Options{In: a.io.in, Out: a.io.out, Telnet: d.Console.Kind == "telnet",
				Banner: fmt.Sprintf("Connected to %s's console: %s\r\nCtrl-] detaches; the node keeps running.", o.Addr, where)})
			if errors.Is(err, console.ErrClosed) {
				fmt.Fprintf(a.io.err, "\r\nThe console of %s was closed.\r\n", o.Addr)
				return nil
			}
			return err
		}),
	}
	vf.add(cmd)
	return cmd
}

// openConsole connects to a node's console: through its provider when it
// opens its own (a container's shell), else to the endpoint Describe
// gives (a TCP port, a unix socket).
func (a *app) openConsole(ctx context.Context, prov providers.Provider, dr providers.DescribeRequest, d providers.Description) (io.ReadWriteCloser, error) {
	if d.Console == nil {
		return nil, fmt.Errorf("%s has no console (console = \"none\", or the provider gives none)", dr.Addr)
	}
	if op, ok := prov.(providers.ConsoleOpener); ok {
		req := providers.ConsoleRequest{DescribeRequest: dr}
		if f, ok := a.io.in.(*os.File); ok {
			if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
				req.Rows, req.Cols = ws.Row, ws.Col
			}
		}
		return op.OpenConsole(ctx, req)
	}
	var network string
	switch d.Console.Kind {
	case "telnet":
		network = "tcp"
	case "pipe":
		network = "unix"
	default:
		return nil, fmt.Errorf("%s's console is %s, a graphical one: open it with %s", dr.Addr, d.Console.Kind, d.Console.Command)
	}
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, network, d.Console.Address)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s's console at %s: %w (is the node running? labform status shows it)", dr.Addr, d.Console.Address, err)
	}
	return c, nil
}

// describeOnHost gives, for state show, the host names the object's provider
// derives from its ID: the lab as state records it (name, ID), without
// the configuration. It is nil when the provider describes nothing.
func (a *app) describeOnHost(s state.Backend, e stateEntry) (*providers.Description, error) {
	prov, ok := a.reg.Provider(e.rec.Provider)
	if !ok {
		return nil, nil
	}
	d, ok := prov.(providers.Describer)
	if !ok {
		return nil, nil
	}
	meta, err := s.Meta()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(a.dir())
	if err != nil {
		return nil, err
	}
	name := meta.LabName
	if name == "" {
		name = filepath.Base(dir)
	}
	lab := providers.Lab{Name: name, Dir: dir, WorkDir: filepath.Join(dir, ".labform", e.rec.Provider), ID: meta.LabID,
		IDOf: func(addr string) string {
			if rec, err := s.Get(addr); err == nil && rec != nil {
				return rec.ID
			}
			return ""
		}}
	desc := d.Describe(providers.DescribeRequest{Lab: lab, Type: e.rec.Type, Addr: e.addr,
		ID: e.rec.ID, Value: e.value, Private: e.rec.Private})
	return &desc, nil
}
