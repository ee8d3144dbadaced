package main

import (
	"fmt"
	"time"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/planner"
	"github.com/spf13/cobra"
)

// importCommand is `labform import ADDRESS ID`: adopt a running object
// made outside labform into a resource of the configuration. Only the
// state changes; the next plan shows how the object differs from the
// configuration.
func (a *app) importCommand() *cobra.Command {
	f := &opFlags{refresh: true, lock: true}
	cmd := &cobra.Command{
		Use:   "import ADDRESS ID",
		Short: "Adopt a running object made outside labform",
		Long: `Adopt a running object made outside labform into ADDRESS, a resource
instance the configuration declares. ID names the object; its form is
the provider's (docs/providers): a container is RUNTIME_ROOT:ID, a firewall
chain NETNS:FAMILY:TABLE:CHAIN, a link NETNS:BRIDGE, a VirtualBox VM its
name or UUID.
Nothing on the host changes; the next plan shows how the object differs
from the configuration. An import block (import { to = ADDRESS, id = ID })
does the same within a plan and apply.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := addr.ParseInstance(args[0])
			if err != nil {
				return err
			}
			intr := a.catchInterrupts()
			defer intr.stop()
			s, err := a.openSession("labform import", f, a.dir())
			if err != nil {
				return err
			}
			defer s.close()
			opts := planner.PlanOptions{Mode: planner.NormalMode, Refresh: f.refresh, Imports: []planner.ImportSpec{{To: to, ID: args[1]}}}
			plan, diags := s.p.Plan(intr.soft, opts)
			if ierr := intr.interrupted(); ierr != nil {
				return ierr
			}
			if err := a.printDiags(diags, s.p.Lab.Parser.Files()); err != nil {
				return err
			}
			if diags := s.p.ApplyImports(intr.soft, plan); diags.HasErrors() {
				return a.printDiags(diags, s.p.Lab.Parser.Files())
			}
			for _, c := range plan.Imports {
				fmt.Fprintf(a.io.out, "%s: Importing from ID %q...\n%s: Import prepared!\n", c.Addr, c.ImportedFrom, c.Addr)
			}
			fmt.Fprintf(a.io.out, "\nImport successful!\n\nThe object is now in the state and labform manages it. Run labform plan to see how it differs from the configuration.\n")
			return nil
		},
	}
	f.vars.add(cmd)
	cmd.Flags().DurationVar(&f.lockTimeout, "lock-timeout", 0*time.Second, "how long to wait for another run's state lock")
	cmd.Flags().IntVar(&f.parallelism, "parallelism", 10, "how many provider reads run at once")
	return cmd
}
