package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/labview"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/spf13/cobra"
)

func (a *app) graphCommand() *cobra.Command {
	var typ, format string
	vf := &varFlags{}
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Draw the lab's topology (or, with -type=plan, its dependency graph)",
		Long: `graph draws the lab as its users draw it (-type=topology, the default):
nodes shaped by kind, ports labelled with interface names, point-to-point
links as edges, segments as a bridge node, impairment and state on the
links, firewall chains on their node. -format is dot (Graphviz), mermaid,
svg or html (laid out by the Graphviz built into labform: no binary
needed; the page shows each node's details on hover), or json: the
model the pictures are drawn from, in the shape of status -json.

-type=plan prints the dependency graph of the lab's resources in DOT.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lab, err := a.loadLab()
			if err != nil {
				return err
			}
			in, err := vf.inputs(a)
			if err != nil {
				return err
			}
			in.Unknowns = true
			d, diags := config.Evaluate(lab, in, nil)
			if err := a.printDiags(diags, lab.Parser.Files()); err != nil {
				return err
			}
			v := graphView{ctx: cmd.Context(), format: format}
			switch typ {
			case "plan":
				if format != "dot" {
					return fmt.Errorf("-type=plan draws in dot only, not %s", format)
				}
				v.deps = planner.DependencyGraph(d)
				return a.show(v, false)
			case "topology":
			default:
				return fmt.Errorf("-type must be topology or plan, not %q", typ)
			}
			// The configuration as written: nothing is read from the lab,
			// so the picture is the same before and after an apply.
			v.model = labview.Build(labview.Input{Lab: providers.Lab{Name: lab.Name, Dir: lab.Dir}, Registry: a.reg, Desired: d, PreferDesired: true})
			return a.show(v, format == "json")
		},
	}
	vf.add(cmd)
	cmd.Flags().StringVar(&typ, "type", "topology", "topology (the lab as drawn) or plan (the dependency graph)")
	cmd.Flags().StringVar(&format, "format", "dot", "dot, mermaid, svg, html or json")
	return cmd
}

// graphvizHelper is the program that lays graphs out (internal/graphviz):
// labform does not link Graphviz itself, whose start would slow every
// command.
const graphvizHelper = "labform-graphviz"

// graphvizLayout runs the helper: LABFORM_GRAPHVIZ when set, else the
// one beside labform's executable (make build puts it there), else the
// one on PATH.
func graphvizLayout(ctx context.Context, dot []byte) ([]byte, error) {
	path := os.Getenv("LABFORM_GRAPHVIZ")
	if path == "" {
		if self, err := os.Executable(); err == nil {
			if p := filepath.Join(filepath.Dir(self), graphvizHelper); fileExists(p) {
				path = p
			}
		}
	}
	if path == "" {
		p, err := exec.LookPath(graphvizHelper)
		if err != nil {
			return nil, fmt.Errorf("-format=svg and -format=html need %s, labform's layout helper (Graphviz built in; no dot binary needed), beside labform or on PATH: make build builds both into bin/ (or go install ./cmd/%s); -format=dot and -format=mermaid need nothing", graphvizHelper, graphvizHelper)
		}
		path = p
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Stdin = bytes.NewReader(dot)
	// go-graphviz caches its compiled WebAssembly under $TMPDIR, in files
	// only their creator can read: each user gets a cache of their own.
	if dir, err := os.UserCacheDir(); err == nil {
		cache := filepath.Join(dir, "labform", "graphviz")
		if err := os.MkdirAll(cache, 0o700); err == nil {
			cmd.Env = append(os.Environ(), "TMPDIR="+cache)
		}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("%s failed (%v): %s", path, err, strings.TrimSpace(errOut.String()))
		}
		return nil, fmt.Errorf("running %s: %w", path, err)
	}
	return out.Bytes(), nil
}

// fileExists tells whether p is a file: the helper beside labform is
// used only when it is there, else PATH is searched.
func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
