package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/gctune"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/sergi/go-diff/diffmatchpatch"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// debianPackage says where a missing tool comes from.
var debianPackage = map[string]string{
	"qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils", "runc": "runc",
	"iptables-restore": "iptables", "iptables-save": "iptables", "ip6tables-restore": "iptables", "nft": "nftables",
	"VBoxManage": "VirtualBox (not in Debian's main archive; see virtualbox.org)",
}

func (a *app) initCommand() *cobra.Command {
	var migrate bool
	var lockTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Prepare the lab directory and check the providers' tools",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, _ := filepath.Abs(a.dir())
			fmt.Fprintf(a.io.out, "Initializing the lab in %s...\n", dir)
			if err := providers.PrivateDir(filepath.Join(dir, ".labform")); err != nil {
				return err
			}
			fmt.Fprintln(a.io.out, "- .labform/ holds the state and the providers' files")
			lab, err := a.loadLab()
			if err != nil {
				return err
			}
			if migrate {
				if err := a.migrateState(a.dir(), lockTimeout); err != nil {
					return err
				}
			} else if err := checkBackendMoved(a.dir(), lab.Backend); err != nil {
				return err
			} else if lab.Backend != nil {
				fmt.Fprintf(a.io.out, "- The state is in %s\n", describeBackend(lab.Backend, a.dir()))
			}
			used := map[string]bool{}
			for _, r := range lab.AllResources() {
				used[r.Provider] = true
			}
			missing := 0
			fmt.Fprintln(a.io.out, "\nProviders this lab uses:")
			for _, name := range a.reg.Names() {
				if !used[name] {
					continue
				}
				p, _ := a.reg.Provider(name)
				tc, ok := p.(providers.ToolChecker)
				if !ok {
					fmt.Fprintf(a.io.out, "- %s: needs no external tool\n", name)
					continue
				}
				var parts []string
				for _, tool := range tc.Tools() {
					if path, err := exec.LookPath(tool); err == nil {
						parts = append(parts, fmt.Sprintf("%s found (%s)", tool, path))
					} else {
						missing++
						parts = append(parts, fmt.Sprintf("%s MISSING (install %s)", tool, debianPackage[tool]))
					}
				}
				fmt.Fprintf(a.io.out, "- %s: %s\n", name, strings.Join(parts, ", "))
			}
			if missing > 0 {
				fmt.Fprintf(a.io.out, "\nWarning: %d tool(s) are missing. validate and plan work without them; apply needs them.\n", missing)
			}
			a.reportHosts(lab)
			if err := a.prefetch(cmd.Context(), lab, dir); err != nil {
				return err
			}
			fmt.Fprintln(a.io.out, "\nlabform has been successfully initialized!")
			return nil
		},
	}
	cmd.Flags().BoolVar(&migrate, "migrate-state", false, "move the state between .labform/state.db and etcd, as the lab's backend block now says")
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 0, "how long to wait for another run's state lock")
	return cmd
}

// validateCommand checks the lab without its state or a running lab. It
// evaluates with unknowns allowed (a variable without a value, an
// attribute known only after apply), and runs the providers' checks only
// when evaluation found no error: checks of a half-evaluated lab would
// report the first error's consequences as errors of their own.
func (a *app) validateCommand() *cobra.Command {
	var asJSON bool
	vf := &varFlags{}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the lab files without touching the lab",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Validate keeps what it allocates (the parse tree, the
			// values) to its end: no collection before the heap is large.
			gctune.Hold(validateHeldHeap)
			lab, diags := config.Load(a.dir(), a.reg)
			if !diags.HasErrors() {
				in, err := vf.inputs(a)
				if err != nil {
					return err
				}
				in.Unknowns = true
				d, more := config.Evaluate(lab, in, nil)
				diags = append(diags, more...)
				if !more.HasErrors() {
					diags = append(diags, planner.Validate(a.reg, d)...)
				}
			}
			v := validateView{doc: newValidateJSON(diags)}
			if !asJSON {
				var files map[string]*hcl.File
				if lab != nil {
					files = lab.Parser.Files()
				}
				if err := a.printDiags(diags, files); err != nil {
					return err
				}
			}
			if err := a.show(v, asJSON); err != nil {
				return err
			}
			if !v.doc.Valid {
				// The JSON form, like the text, exits 1 for a lab with errors.
				return exitError{1}
			}
			return nil
		},
	}
	vf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}

// validateHeldHeap is the heap validate grows to before the collector's
// first cycle (gctune.Hold): a lab of 10,500 resources validates within
// it without one.
const validateHeldHeap = 384 << 20

// jsonPos, jsonRange and jsonDiag are a diagnostic in the shape of
// Terraform's validate -json, so that tools that read Terraform's
// diagnostics (editors, CI annotations) read labform's.
type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonDiag struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail"`
	Range    *jsonRange `json:"range,omitempty"`
}

// diagsJSON turns diagnostics into validate -json's shape (Terraform's),
// never null, so that a program can range over it without a check.
func diagsJSON(diags hcl.Diagnostics) []jsonDiag {
	out := []jsonDiag{}
	for _, d := range diags {
		jd := jsonDiag{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			r := d.Subject
			jd.Range = &jsonRange{Filename: r.Filename, Start: jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte}, End: jsonPos{r.End.Line, r.End.Column, r.End.Byte}}
		}
		out = append(out, jd)
	}
	return out
}

// fmtCommand rewrites lab files as hclwrite formats them. -check exits 3
// when a file needs formatting, as terraform fmt -check does, so that CI
// jobs written for Terraform carry over.
func (a *app) fmtCommand() *cobra.Command {
	var check, diff bool
	cmd := &cobra.Command{
		Use:   "fmt [FILE|DIR]...",
		Short: "Rewrite lab files in the canonical style",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			for i := range args {
				args[i] = a.path(args[i])
			}
			// A file named on the command line is read as it is; the
			// files of a directory are read as validate reads them, so
			// that a FIFO or a link to a secret is refused unread.
			type file struct{ path, dir string }
			var files []file
			for _, arg := range args {
				st, err := os.Stat(arg)
				if err != nil {
					return err
				}
				if !st.IsDir() {
					files = append(files, file{path: arg})
					continue
				}
				fs, err := config.LabFiles(arg)
				if err != nil {
					return err
				}
				for _, f := range fs {
					files = append(files, file{path: f, dir: arg})
				}
			}
			unformatted := false
			var diags hcl.Diagnostics
			for _, ff := range files {
				f := ff.path
				var src []byte
				if ff.dir != "" {
					var d *hcl.Diagnostic
					if src, d = config.ReadLabFile(ff.dir, f); d != nil {
						diags = append(diags, d)
						continue
					}
				} else {
					var err error
					if src, err = os.ReadFile(f); err != nil {
						return err
					}
				}
				if d := config.CheckSource(f, src); d != nil {
					diags = append(diags, d)
					continue
				}
				if _, d := hclwrite.ParseConfig(src, f, hcl.InitialPos); d.HasErrors() {
					diags = append(diags, d...)
					continue
				}
				out := hclwrite.Format(src)
				if bytes.Equal(src, out) {
					continue
				}
				unformatted = true
				fmt.Fprintln(a.io.out, f)
				if diff {
					dmp := diffmatchpatch.New()
					ca, cb, lines := dmp.DiffLinesToChars(string(src), string(out))
					for _, d := range dmp.DiffCharsToLines(dmp.DiffMain(ca, cb, false), lines) {
						sym := " "
						if d.Type == diffmatchpatch.DiffInsert {
							sym = "+"
						} else if d.Type == diffmatchpatch.DiffDelete {
							sym = "-"
						}
						for _, l := range strings.SplitAfter(d.Text, "\n") {
							if l != "" && sym != " " {
								fmt.Fprintf(a.io.out, "%s%s", sym, l)
							}
						}
					}
				}
				if !check {
					if err := os.WriteFile(f, out, 0o644); err != nil {
						return err
					}
				}
			}
			if err := a.printDiags(diags, nil); err != nil {
				return err
			}
			if check && unformatted {
				return exitError{3}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only check; exit 3 when a file needs formatting")
	cmd.Flags().BoolVar(&diff, "diff", false, "show what would change")
	return cmd
}

// showCommand shows the state, or a saved plan as apply would see it. It
// reads the state without the lock, so that it works while an apply runs.
func (a *app) showCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show [PLANFILE]",
		Short: "Show the state, or a saved plan",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				saved, err := planner.ReadPlanFile(a.path(args[0]), a.reg)
				if err != nil {
					return err
				}
				return a.show(planView{plan: saved.Plan, colors: a.colors()}, asJSON)
			}
			s, err := a.readState(a.dir())
			if err != nil {
				return err
			}
			defer s.Close()
			return a.showState(s, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	readOnlyLockFlag(cmd)
	return cmd
}

// stateEntry is one record of the state, decoded with its provider's
// schema: the record alone is bytes (the state never knows a schema).
type stateEntry struct {
	addr   string
	rec    *state.Record
	value  cty.Value
	schema *providers.Schema
}

// stateEntries decodes every record of s, in plan order. A record whose
// provider or schema is gone is an error naming its address, not a
// silent omission: show must not hide what labform still manages.
func (a *app) stateEntries(s state.Backend) ([]stateEntry, error) {
	recs, err := s.Resources()
	if err != nil {
		return nil, err
	}
	var out []stateEntry
	for addr, rec := range recs {
		v, sch, err := planner.DecodeRecord(a.reg, rec.Type, rec.Provider, rec.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", addr, err)
		}
		out = append(out, stateEntry{addr: addr, rec: rec, value: v, schema: sch})
	}
	sort.Slice(out, func(i, j int) bool { return lessAddr(out[i].addr, out[j].addr) })
	return out, nil
}

// showState shows the whole state. Every record is decoded first, so
// that one that cannot be (its provider is gone) fails the command
// before anything is printed, rather than after half of it.
func (a *app) showState(s state.Backend, asJSON bool) error {
	entries, err := a.stateEntries(s)
	if err != nil {
		return err
	}
	outs, err := s.Outputs()
	if err != nil {
		return err
	}
	return a.show(stateView{entries: entries, outs: outs}, asJSON)
}

// stateView is `labform show` of the state.
type stateView struct {
	entries []stateEntry
	outs    map[string]*state.Output
}

func (v stateView) human(w io.Writer) error {
	if len(v.entries) == 0 {
		fmt.Fprintln(w, "The state is empty: nothing has been applied.")
		return nil
	}
	for _, e := range v.entries {
		printInstance(w, e)
	}
	return outputsView{outs: v.outs, header: "Outputs:\n\n"}.human(w)
}

func (v stateView) json(w io.Writer) error {
	j := stateJSON{FormatVersion: "1.0"}
	j.Values.Outputs = outputsJSON(v.outs)
	for _, e := range v.entries {
		j.Values.RootModule.Resources = append(j.Values.RootModule.Resources, e.resourceJSON())
	}
	return writeDocument(w, j)
}

// resourceJSON is the entry as show -json lists it.
func (e stateEntry) resourceJSON() resourceJSON {
	vb, _ := ctyjson.Marshal(e.value, e.value.Type())
	return resourceJSON{Address: e.addr, Mode: "managed", Type: e.rec.Type,
		ProviderName: e.rec.Provider, Values: vb, DependsOn: e.rec.Deps, Tainted: e.rec.Tainted != ""}
}

// printInstance writes one instance as HCL-like text, attributes aligned;
// null and empty attributes are left out, and a sensitive one (or one
// holding a sensitive value) is shown as (sensitive).
func printInstance(out io.Writer, e stateEntry) {
	// A sensitive value anywhere inside an attribute hides the attribute.
	// The recorded paths are attribute paths as the planner writes them
	// (password, env["KEY"], files[0].content), not addresses: the
	// attribute is the name before the first step.
	sens := map[string]bool{}
	for _, p := range e.rec.Sensitive {
		sens[strings.FieldsFunc(p, func(r rune) bool { return r == '.' || r == '[' })[0]] = true
	}
	tainted := ""
	if e.rec.Tainted != "" {
		tainted = " (tainted: " + e.rec.Tainted + ")"
	}
	name := e.addr
	if ia, err := addr.ParseInstance(e.addr); err == nil {
		name = ia.Resource.Name
	}
	fmt.Fprintf(out, "# %s:%s\n%s %q {\n", e.addr, tainted, e.rec.Type, name)
	var names []string
	for n := range e.value.Type().AttributeTypes() {
		names = append(names, n)
	}
	sort.Strings(names)
	w := 0
	for _, n := range names {
		if len(n) > w {
			w = len(n)
		}
	}
	for _, n := range names {
		v := e.value.GetAttr(n)
		if v.IsNull() || ((v.Type().IsListType() || v.Type().IsMapType()) && v.LengthInt() == 0) {
			continue
		}
		fmt.Fprintf(out, "    %-*s = %s\n", w, n, strings.ReplaceAll(render.Value(v, sens[n]), "\n", "\n    "))
	}
	fmt.Fprint(out, "}\n\n")
}

// onState is the RunE of a state subcommand: it opens the state with open
// (read without the lock, or locked under the subcommand's name, which
// another run's refusal names), runs fn on it and closes it.
func onState(open func(string) (state.Backend, error), name string, fn func(s state.Backend, args []string) error) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		s, err := open(name)
		if err != nil {
			return err
		}
		defer s.Close()
		return fn(s, args)
	}
}

func (a *app) stateCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "state", Short: "Inspect and change the state"}
	open := func(name string) (state.Backend, error) { return a.openState(a.dir(), "labform state "+name, 0) }
	read := func(string) (state.Backend, error) { return a.readState(a.dir()) }
	var listJSON, showJSON bool
	list := &cobra.Command{
		Use: "list [ADDRESS]...", Short: "List the instances in state",
		RunE: onState(read, "list", func(s state.Backend, args []string) error {
			addrs, err := matching(s, args)
			if err != nil {
				return err
			}
			return a.show(newStateListView(addrs), listJSON)
		}),
	}
	list.Flags().BoolVar(&listJSON, "json", false, "machine-readable output")
	show := &cobra.Command{
		Use: "show ADDRESS", Short: "Show one instance", Args: cobra.ExactArgs(1),
		RunE: onState(read, "show", func(s state.Backend, args []string) error {
			want, err := addr.ParseInstance(args[0])
			if err != nil {
				return fmt.Errorf("%q is not an instance address (like vm.router or container.host[0]): %w", args[0], err)
			}
			entries, err := a.stateEntries(s)
			if err != nil {
				return err
			}
			for _, e := range entries {
				// Compared as addresses, so that any spelling config/addr
				// reads as this instance finds it.
				if ia, err := addr.ParseInstance(e.addr); err == nil && ia == want {
					host, err := a.describeOnHost(s, e)
					if err != nil {
						return err
					}
					return a.show(stateShowView{entry: e, host: host}, showJSON)
				}
			}
			return fmt.Errorf("no instance %s in state (state list shows what there is)", args[0])
		}),
	}
	show.Flags().BoolVar(&showJSON, "json", false, "machine-readable output")
	pull := a.statePullCommand(read)
	for _, c := range []*cobra.Command{list, show, pull} {
		readOnlyLockFlag(c)
	}
	cmd.AddCommand(list, show, &cobra.Command{
		Use: "rm ADDRESS...", Short: "Forget instances; their objects keep running", Args: cobra.MinimumNArgs(1),
		RunE: onState(open, "rm", func(s state.Backend, args []string) error {
			gone, err := matching(s, args)
			if err != nil {
				return err
			}
			if len(gone) == 0 {
				return fmt.Errorf("no instance in state matches %s", strings.Join(args, ", "))
			}
			if err := s.Delete(gone...); err != nil {
				return err
			}
			for _, g := range gone {
				fmt.Fprintf(a.io.out, "Removed %s\n", g)
			}
			fmt.Fprintf(a.io.out, "Successfully removed %d instance(s). Their objects keep running; labform no longer manages them.\n", len(gone))
			return nil
		}),
	}, &cobra.Command{
		Use: "mv SOURCE DESTINATION", Short: "Give an instance a new address", Args: cobra.ExactArgs(2),
		RunE: onState(open, "mv", func(s state.Backend, args []string) error {
			src, err := parseTargets(args[:1])
			if err != nil {
				return err
			}
			dst, err := parseTargets(args[1:])
			if err != nil {
				return err
			}
			if src[0].ModuleOnly || dst[0].ModuleOnly {
				return a.stateMvModule(s, src[0], dst[0])
			}
			rec, err := s.Get(src[0].String())
			if err != nil || rec == nil {
				return fmt.Errorf("no instance %s in state", args[0])
			}
			if dst[0].Type != src[0].Type {
				return fmt.Errorf("cannot move a %s to a %s address", src[0].Type, dst[0].Type)
			}
			if other, _ := s.Get(dst[0].String()); other != nil {
				return fmt.Errorf("%s already exists in state", dst[0])
			}
			// One transaction: the record gets its new address, and the
			// records that named the old one (a link's endpoints, a
			// chain's target) name the new one.
			names := map[string]string{src[0].String(): dst[0].String()}
			if err := s.Rename([]state.Rename{{From: src[0].String(), To: dst[0].String()}}, planner.RenameReferences(a.reg, names)); err != nil {
				return err
			}
			fmt.Fprintf(a.io.out, "Move %q to %q\nSuccessfully moved 1 object(s).\n", args[0], args[1])
			return nil
		}),
	}, pull, a.statePushCommand(open), a.stateRestoreCommand())
	return cmd
}

// stateMvModule moves every instance of a module: module.pod to
// module.pods (every instance, keys kept), or module.pod[1] to
// module.single (that instance, with its nested modules).
func (a *app) stateMvModule(s state.Backend, src, dst addr.Target) error {
	if !src.ModuleOnly || !dst.ModuleOnly {
		return fmt.Errorf("cannot move %s to %s: a module moves to a module address, a resource to a resource address", src, dst)
	}
	recs, err := s.Resources()
	if err != nil {
		return err
	}
	anyKey := src.Whole && dst.Whole
	var renames []state.Rename
	names := map[string]string{}
	for ad := range recs {
		ia, err := addr.ParseInstance(ad)
		if err != nil || !addr.WithinModule(ia.Module, src.Module, anyKey) {
			continue
		}
		to := ia
		to.Module = dst.Module + ia.Module[len(src.Module):]
		if _, taken := recs[to.String()]; taken {
			return fmt.Errorf("%s already exists in state", to)
		}
		renames = append(renames, state.Rename{From: ad, To: to.String()})
		names[ad] = to.String()
	}
	if len(renames) == 0 {
		return fmt.Errorf("no instance of %s in state", src)
	}
	sort.Slice(renames, func(i, j int) bool { return lessAddr(renames[i].From, renames[j].From) })
	if err := s.Rename(renames, planner.RenameReferences(a.reg, names)); err != nil {
		return err
	}
	fmt.Fprintf(a.io.out, "Move %q to %q\nSuccessfully moved %d object(s).\n", src.String(), dst.String(), len(renames))
	return nil
}

// stateDoc is the JSON form of a whole state (pull and push).
type stateDoc struct {
	Version   int                      `json:"version"`
	Lineage   string                   `json:"lineage"`
	Serial    uint64                   `json:"serial"`
	Resources []stateDocResource       `json:"resources"`
	Outputs   map[string]*state.Output `json:"outputs"`
}

// stateDocResource is one record in a pulled state. Values are cty JSON
// of the provider's schema, not the record's msgpack bytes, so that a
// person can read and edit a pulled state before pushing it.
type stateDocResource struct {
	Address   string          `json:"address"`
	Type      string          `json:"type"`
	Provider  string          `json:"provider"`
	ID        string          `json:"id,omitempty"` // the object's ID: its names on the host
	Values    json.RawMessage `json:"values"`
	Private   []byte          `json:"private,omitempty"`
	Deps      []string        `json:"depends_on,omitempty"`
	Sensitive []string        `json:"sensitive,omitempty"`
}

func (a *app) statePullCommand(open func(string) (state.Backend, error)) *cobra.Command {
	return &cobra.Command{
		Use: "pull", Short: "Print the whole state as JSON", Args: cobra.NoArgs,
		RunE: onState(open, "pull", func(s state.Backend, _ []string) error {
			meta, err := s.Meta()
			if err != nil {
				return err
			}
			entries, err := a.stateEntries(s)
			if err != nil {
				return err
			}
			doc := stateDoc{Version: state.FormatVersion, Lineage: meta.Lineage, Serial: meta.Serial, Resources: []stateDocResource{}}
			for _, e := range entries {
				vb, err := ctyjson.Marshal(e.value, e.schema.ImpliedType())
				if err != nil {
					return err
				}
				doc.Resources = append(doc.Resources, stateDocResource{Address: e.addr, Type: e.rec.Type, Provider: e.rec.Provider, ID: e.rec.ID,
					Values: vb, Private: e.rec.Private, Deps: e.rec.Deps, Sensitive: e.rec.Sensitive})
			}
			if doc.Outputs, err = s.Outputs(); err != nil {
				return err
			}
			b, _ := json.MarshalIndent(doc, "", "  ")
			fmt.Fprintf(a.io.out, "%s\n", b)
			return nil
		}),
	}
}

func (a *app) statePushCommand(open func(string) (state.Backend, error)) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "push FILE", Short: "Replace the state with a JSON state from state pull", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(a.path(args[0]))
			if err != nil {
				return err
			}
			var doc stateDoc
			if err := json.Unmarshal(b, &doc); err != nil || doc.Version == 0 {
				return fmt.Errorf("%s is not a labform state (from state pull)", args[0])
			}
			s, err := open("push")
			if err != nil {
				return err
			}
			defer s.Close()
			meta, err := s.Meta()
			if err != nil {
				return err
			}
			if !force && doc.Lineage != meta.Lineage {
				return fmt.Errorf("%s has lineage %s, but this lab's state has lineage %s: it is another lab's state. Use -force to push it anyway", args[0], doc.Lineage, meta.Lineage)
			}
			if !force && doc.Serial < meta.Serial {
				return fmt.Errorf("%s has serial %d, older than the state's %d: pushing it would lose changes. Use -force to push it anyway", args[0], doc.Serial, meta.Serial)
			}
			var recs []*state.Record
			for _, r := range doc.Resources {
				_, sch, err := planner.DecodeRecord(a.reg, r.Type, r.Provider, nil)
				if sch == nil {
					return fmt.Errorf("%s: %w", r.Address, err)
				}
				v, err := ctyjson.Unmarshal(r.Values, sch.ImpliedType())
				if err != nil {
					return fmt.Errorf("%s: %w", r.Address, err)
				}
				enc, err := planner.EncodeRecord(a.reg, r.Type, r.Provider, v)
				if err != nil {
					return err
				}
				recs = append(recs, &state.Record{Addr: r.Address, Type: r.Type, Provider: r.Provider, ID: r.ID, Value: enc, Private: r.Private, Deps: r.Deps, Sensitive: r.Sensitive})
			}
			lineage := ""
			if force {
				lineage = doc.Lineage
			}
			if err := s.Replace(lineage, recs, doc.Outputs); err != nil {
				return err
			}
			fmt.Fprintf(a.io.out, "Pushed %d instance(s) to the state.\n", len(recs))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "push even when lineage or serial disagree")
	return cmd
}

func (a *app) outputCommand() *cobra.Command {
	var asJSON, raw bool
	vf := &varFlags{}
	cmd := &cobra.Command{
		Use: "output [NAME]", Short: "Show the lab's outputs", Args: cobra.MaximumNArgs(1),
		Long: `output shows the outputs as the last apply recorded them. It takes -var
and -var-file like every command that evaluates the lab, so that one set
of flags serves a script's every call; they are checked, and the values
shown are still those of the last apply.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(vf.vars)+len(vf.varFiles) > 0 {
				// Checked against the lab's declarations and validations.
				in, err := vf.inputs(a)
				if err != nil {
					return err
				}
				lab, err := a.loadLab()
				if err != nil {
					return err
				}
				in.Unknowns = true
				if _, diags := config.Evaluate(lab, in, nil); diags.HasErrors() {
					return a.printDiags(diags, lab.Parser.Files())
				}
			}
			s, err := a.readState(a.dir())
			if err != nil {
				return err
			}
			defer s.Close()
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if raw {
				outs, err := s.Outputs()
				if err != nil {
					return err
				}
				o, ok := outs[name]
				if !ok {
					return fmt.Errorf("no output %q", name)
				}
				v, err := planner.DecodeOutput(o)
				if err != nil {
					return err
				}
				if !v.Type().IsPrimitiveType() {
					return fmt.Errorf("-raw prints strings, numbers and bools; %q is a %s", name, v.Type().FriendlyName())
				}
				fmt.Fprintln(a.io.out, strings.Trim(render.Value(v, false), `"`))
				return nil
			}
			return a.printOutputs(s, name, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	cmd.Flags().BoolVar(&raw, "raw", false, "print a string output as it is, without quotes")
	vf.add(cmd)
	readOnlyLockFlag(cmd)
	return cmd
}

// printOutputs writes the state's outputs: the one called name (shown even
// when sensitive, since it was asked for by name), or all of them,
// sensitive ones hidden.
func (a *app) printOutputs(s state.Backend, name string, asJSON bool) error {
	outs, err := s.Outputs()
	if err != nil {
		return err
	}
	if name != "" {
		o, ok := outs[name]
		if !ok {
			return fmt.Errorf("no output %q: the lab declares no such output, or it has not been applied", name)
		}
		return a.show(outputView{out: o}, asJSON)
	}
	return a.show(outputsView{outs: outs}, asJSON)
}

// outputsView is every output of the state: `labform output`, and the
// end of show and apply.
type outputsView struct {
	outs map[string]*state.Output
	// header comes before the text form, when there is any output.
	header string
}

func (v outputsView) human(w io.Writer) error {
	if len(v.outs) == 0 {
		return nil
	}
	fmt.Fprint(w, v.header)
	for _, n := range slices.Sorted(maps.Keys(v.outs)) {
		val, err := planner.DecodeOutput(v.outs[n])
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s = %s\n", n, render.Value(val, v.outs[n].Sensitive))
	}
	return nil
}

func (v outputsView) json(w io.Writer) error { return writeDocument(w, outputsJSON(v.outs)) }

func (a *app) versionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use: "version", Short: "Show labform's version", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.show(newVersionView(a.reg.Names()), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	return cmd
}

// matching lists the state's addresses that the given addresses select
// (all of them when none is given), sorted.
func matching(s state.Backend, args []string) ([]string, error) {
	targets, err := parseTargets(args)
	if err != nil {
		return nil, err
	}
	recs, err := s.Resources()
	if err != nil {
		return nil, err
	}
	var addrs []string
	for ad := range recs {
		if len(targets) == 0 || matchAny(targets, ad) {
			addrs = append(addrs, ad)
		}
	}
	sort.Slice(addrs, func(i, j int) bool { return lessAddr(addrs[i], addrs[j]) })
	return addrs, nil
}
