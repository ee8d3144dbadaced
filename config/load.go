package config

import (
	"fmt"
	"github.com/zclconf/go-cty/cty/function"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// FileSuffix is what a lab file's name ends with.
const FileSuffix = ".lab.hcl"

// ResourceTypes are the block types that declare resources.
var ResourceTypes = []string{"vm", "container", "link", "firewall_chain"}

// Lab is a parsed, structurally checked lab directory.
type Lab struct {
	Name string
	Dir  string // absolute
	// AllowHostPaths is the lab block's allow_host_paths: paths outside
	// the lab directory (a rootfs, a disk image) are refused without it.
	AllowHostPaths bool
	// Backend is where the state is kept; nil: .labform/state.db.
	Backend   *Backend
	Parser    *hclparse.Parser
	Variables map[string]*Variable
	Locals    map[string]*Local
	Providers map[string]*ProviderConfig
	// Hosts are the host blocks (hosts.go), by name.
	Hosts     map[string]*HostBlock
	Resources map[addr.Resource]*Resource
	Outputs   map[string]*Output
	// Checks are the check blocks (checks.go), CheckOrder their names in
	// declaration order.
	Checks     map[string]*Check
	CheckOrder []string
	// Moved and Removed are the moved and removed blocks (refactor.go).
	Moved   []*Moved
	Removed []*Removed
	Imports []*Import
	// Order lists resources in declaration order (by file, then line), so
	// that output and errors are stable.
	Order    []addr.Resource
	Registry *providers.Registry
	// Modules are the module blocks (module.go), by name.
	Modules map[string]*ModuleCall

	tokens int // in the files added so far, for MaxTokens

	// A module's directory has its lab as root, its depth of nesting and
	// the place of the call that loaded it; the lab counts the bytes read
	// from its modules' files.
	root          *Lab
	depth         int
	calledFrom    string
	bytes         int
	modulesLoaded bool

	// The order of evaluation, found once (Check and Evaluate both need
	// it); AddFile forgets it.
	orderMu    sync.Mutex
	orderDone  bool
	order      []item
	orderRefs  map[item][]item // what each item of order refers to
	orderDiags hcl.Diagnostics

	pathsOnce  sync.Once
	labDirReal string   // Dir with its links resolved, for host paths
	resolved   sync.Map // host path as written -> resolvedPath

	funcsOnce sync.Once
	funcs     map[string]function.Function // Functions plus the file functions
}

// Funcs are the functions the lab's expressions call: Functions plus the
// file functions, which read files relative to the lab directory
// (fileFuncs).
func (l *Lab) Funcs() map[string]function.Function {
	l.funcsOnce.Do(func() { l.funcs = newFileFuncs(l.Dir, l.AllowHostPaths).functions(Functions) })
	return l.funcs
}

// Variable is a variable block.
type Variable struct {
	Name        string
	Type        cty.Type // cty.DynamicPseudoType when not given
	Default     cty.Value
	Description string
	Sensitive   bool
	Validations []*Validation
	DeclRange   hcl.Range
}

// Validation is a variable's validation block.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// Local is one entry of a locals block.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// ProviderConfig is a provider block.
type ProviderConfig struct {
	Name      string
	Content   *Content
	DeclRange hcl.Range
}

// Output is an output block.
type Output struct {
	Name        string
	Expr        hcl.Expression
	Description string
	Sensitive   bool
	DeclRange   hcl.Range
}

// Lifecycle is a resource's lifecycle block.
type Lifecycle struct {
	CreateBeforeDestroy bool
	PreventDestroy      bool
	IgnoreChanges       []string // top-level attribute names
	IgnoreAll           bool     // ignore_changes = all
}

// Resource is a vm, container, link or firewall_chain block.
type Resource struct {
	Addr     addr.Resource
	Provider string
	// Host is the host block the resource is placed on ("" for the local
	// machine), HostRange where host = was written (hosts.go).
	Host      string
	HostRange hcl.Range
	Schema    *providers.Schema
	Count     hcl.Expression // nil when absent
	ForEach   hcl.Expression // nil when absent
	DependsOn []hcl.Traversal
	Lifecycle Lifecycle
	Ready     *Ready // the ready block (checks.go), nil when absent
	Content   *Content
	DeclRange hcl.Range

	// The block's expressions and the references they make, in order,
	// found once each (refs.go): checking, ordering and evaluating a large
	// lab each walked every expression again.
	exprsOnce sync.Once
	exprList  []hcl.Expression
	varsOnce  sync.Once
	varList   []hcl.Traversal
}

// Content is a block body split by a schema, checked once at load time so
// that evaluating a thousand instances never re-parses the body.
type Content struct {
	Attrs  map[string]*hcl.Attribute
	Blocks map[string][]*NestedContent
	// Dynamic names the attributes whose expressions refer to something;
	// the others are constants, which carry no marks and are never
	// unknown. HasDynamic is true when any attribute here or in a nested
	// block is dynamic.
	Dynamic    map[string]bool
	HasDynamic bool
	// MissingRange is where to point at for a missing attribute.
	MissingRange hcl.Range
	// NullComputed names computed attributes that are null, not unknown,
	// when the block leaves them out: a node's management addresses in a
	// lab without a management network.
	NullComputed map[string]bool
	// vars holds the references of each attribute that has some, found
	// when the body was decoded; nil when not found then.
	vars map[string][]hcl.Traversal
}

// NestedContent is one nested block, or a dynamic block (Dyn set) that
// writes blocks of its type with Content as their body.
type NestedContent struct {
	Dyn       *DynamicBlock
	Label     string
	Content   *Content
	DefRange  hcl.Range
	TypeRange hcl.Range
}

var rootSchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "lab"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "provider", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "check", LabelNames: []string{"name"}},
		{Type: "moved"},
		{Type: "removed"},
		{Type: "import"},
		{Type: "module", LabelNames: []string{"name"}},
		{Type: "host", LabelNames: []string{"name"}},
	}}
	for _, t := range ResourceTypes {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: t, LabelNames: []string{"name"}})
	}
	return s
}()

var metaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "count"}, {Name: "for_each"}, {Name: "depends_on"}, {Name: "provider"}, {Name: "host"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "lifecycle"}, {Type: "ready"}},
}

var lifecycleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "create_before_destroy"}, {Name: "prevent_destroy"}, {Name: "ignore_changes"},
}}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}, {Name: "nullable"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "condition", Required: true}, {Name: "error_message", Required: true},
}}

var outputSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"}, {Name: "depends_on"},
}}

// LabFiles lists the lab files of dir, sorted: every entry whose name
// ends with FileSuffix, whatever it is. ReadLabFile refuses the ones that
// are not regular files of the directory.
func LabFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), FileSuffix) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}

// ReadLabFile reads the lab file name of the directory dir. Before
// reading a byte it refuses a file that is not a regular file (a FIFO
// would block, /dev/zero never end), that is larger than MaxFileSize, or
// whose path, symbolic links resolved, leads outside dir (a link to a
// secret would have its first line shown in a diagnostic). The
// diagnostic names the file, never its content.
func ReadLabFile(dir, name string) ([]byte, *hcl.Diagnostic) {
	refuse := func(summary, detail string, args ...any) ([]byte, *hcl.Diagnostic) {
		return nil, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(detail, args...),
			Subject: &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}}
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return refuse("Cannot read a lab file", "%s", err)
	}
	absName := name
	if abs, err := filepath.Abs(name); err == nil {
		absName = abs
	}
	real, err := filepath.EvalSymlinks(absName)
	if err != nil {
		return refuse("Cannot read a lab file", "%s", err)
	}
	if !within(realDir, real) {
		return refuse("Lab file outside the lab directory",
			"%s leads to %s, outside the lab directory %s. labform reads only lab files that are in the lab's directory: copy the file there instead of linking to it.", filepath.Base(name), real, realDir)
	}
	st, err := os.Stat(real)
	if err != nil {
		return refuse("Cannot read a lab file", "%s", err)
	}
	if !st.Mode().IsRegular() {
		return refuse("Lab file is not a regular file",
			"%s is %s, not a regular file; labform reads only regular files as lab files. Rename it so that its name does not end with %s.", filepath.Base(name), fileKind(st.Mode()), FileSuffix)
	}
	if st.Size() > MaxFileSize {
		return refuse("Lab file too large", "%s has %d bytes; a lab file has at most %d (%d MiB). Split it into several files.", filepath.Base(name), st.Size(), MaxFileSize, MaxFileSize>>20)
	}
	// Opened without blocking and checked again through the descriptor,
	// so that a file swapped for a FIFO or a device meanwhile is refused
	// too, and read through a limit in case it grows.
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return refuse("Cannot read a lab file", "%s", err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		return refuse("Lab file is not a regular file", "%s changed while it was opened; it is not a regular file now.", filepath.Base(name))
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return refuse("Cannot read a lab file", "%s", err)
	}
	if len(src) > MaxFileSize {
		return refuse("Lab file too large", "%s has more than %d bytes (%d MiB), the most a lab file may have. Split it into several files.", filepath.Base(name), MaxFileSize, MaxFileSize>>20)
	}
	return src, nil
}

// within reports whether path is dir or below it; both are clean and
// absolute.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// Load parses and checks every *.lab.hcl file of dir. The returned Lab is
// usable for as much as parsed even when there are diagnostics.
func Load(dir string, reg *providers.Registry) (*Lab, hcl.Diagnostics) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, hcl.Diagnostics{sourceless("Invalid lab directory", err.Error())}
	}
	// The lab is known by its real directory: reached through a symlink,
	// it is the same lab.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	files, err := LabFiles(abs)
	if err != nil {
		return nil, hcl.Diagnostics{sourceless("Cannot read the lab directory", err.Error())}
	}
	if len(files) == 0 {
		return nil, hcl.Diagnostics{sourceless("No lab files",
			fmt.Sprintf("The directory %s has no *%s files. A lab is a directory of such files.", abs, FileSuffix))}
	}
	l := NewLab(abs, reg)
	var diags hcl.Diagnostics
	total, refused := 0, false
	for _, name := range files {
		src, d := ReadLabFile(abs, name)
		if d != nil {
			diags, refused = append(diags, d), true
			continue
		}
		if total += len(src); total > MaxLabSize {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Lab too large",
				Detail:  fmt.Sprintf("The lab's files have more than %d bytes (%d MiB) together, the most a lab may have; this file is not read.", MaxLabSize, MaxLabSize>>20),
				Subject: &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}})
			refused = true
			break
		}
		diags = append(diags, l.AddFile(name, src)...)
	}
	if refused {
		// A file that was not read leaves references to what it declares
		// dangling; checking them would only add noise.
		return l, diags
	}
	l.bytes = total
	diags = append(diags, l.Check()...)
	return l, diags
}

// LabDir is the directory Load knows the lab in dir by (Lab.Dir): absolute,
// with its symbolic links resolved; "" when dir has no absolute form.
func LabDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs
}

// NewLab returns an empty lab for dir; AddFile and Check fill it. Tests and
// the fuzzer use these directly with sources held in memory.
func NewLab(dir string, reg *providers.Registry) *Lab {
	return &Lab{
		Name:      filepath.Base(dir),
		Dir:       dir,
		Parser:    hclparse.NewParser(),
		Variables: map[string]*Variable{},
		Locals:    map[string]*Local{},
		Providers: map[string]*ProviderConfig{},
		Resources: map[addr.Resource]*Resource{},
		Outputs:   map[string]*Output{},
		Checks:    map[string]*Check{},
		Registry:  reg,
	}
}

// AddFile parses one lab file's source.
func (l *Lab) AddFile(filename string, src []byte) hcl.Diagnostics {
	n, cuts, d := checkSource(filename, src, l.tokens)
	if d != nil {
		return hcl.Diagnostics{d}
	}
	l.tokens += n
	l.orderMu.Lock()
	l.orderDone = false
	l.orderMu.Unlock()
	f, diags := parseHCL(l.Parser, src, filename, cuts)
	if f == nil || f.Body == nil {
		return diags
	}
	content, moreDiags := f.Body.Content(rootSchema)
	diags = append(diags, moreDiags...)
	// Resource blocks decode on every core; they are recorded in order.
	decoded := make([]decodedResource, len(content.Blocks))
	if len(l.Resources) == 0 && len(content.Blocks) > 64 {
		// A large file: the maps and the list grow once, not by doubling.
		l.Resources = make(map[addr.Resource]*Resource, len(content.Blocks))
		l.Order = make([]addr.Resource, 0, len(content.Blocks))
	}
	par.For(len(content.Blocks), func(i int) {
		if b := content.Blocks[i]; contains(ResourceTypes, b.Type) {
			decoded[i].r, decoded[i].diags = l.buildResource(b)
		}
	})
	for i, b := range content.Blocks {
		if contains(ResourceTypes, b.Type) {
			diags = append(diags, l.addResource(b, decoded[i].r, decoded[i].diags)...)
			continue
		}
		if l.IsModule() {
			switch b.Type {
			case "lab":
				diags = append(diags, l.rootOnly(b, "the lab block belongs in the lab's own directory, where it names the whole lab.")...)
				continue
			case "provider":
				diags = append(diags, l.rootOnly(b, "provider blocks belong in the lab's own directory and apply to the resources of every module.")...)
				continue
			case "moved", "removed", "import":
				diags = append(diags, l.rootOnly(b, b.Type+" blocks belong in the lab's own directory, where they name addresses with their module path (module.pod[0].container.leaf).")...)
				continue
			case "check":
				diags = append(diags, l.rootOnly(b, "check blocks belong in the lab's own directory; a module hands what they need to the lab through its outputs.")...)
				continue
			case "host":
				diags = append(diags, l.rootOnly(b, "host blocks belong in the lab's own directory, where they name the machines of the whole lab.")...)
				continue
			}
		}
		switch b.Type {
		case "module":
			diags = append(diags, l.decodeModule(b)...)
		case "lab":
			diags = append(diags, l.decodeLab(b)...)
		case "variable":
			diags = append(diags, l.decodeVariable(b)...)
		case "locals":
			diags = append(diags, l.decodeLocals(b)...)
		case "provider":
			diags = append(diags, l.decodeProvider(b)...)
		case "output":
			diags = append(diags, l.decodeOutput(b)...)
		case "check":
			diags = append(diags, l.decodeCheck(b)...)
		case "moved":
			diags = append(diags, l.decodeMoved(b)...)
		case "removed":
			diags = append(diags, l.decodeRemoved(b)...)
		case "import":
			diags = append(diags, l.decodeImport(b)...)
		case "host":
			diags = append(diags, l.decodeHost(b)...)
		}
	}
	return diags
}

var labSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "name"}, {Name: "allow_host_paths"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "management"}, {Type: "backend", LabelNames: []string{"type"}}},
}

func (l *Lab) decodeLab(b *hcl.Block) hcl.Diagnostics {
	content, rest, diags := b.Body.PartialContent(labSchema)
	// Anything else is an unknown argument or block, said with the lab
	// block's own words.
	if extra, d := rest.JustAttributes(); !d.HasErrors() {
		for name, a := range extra {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail: fmt.Sprintf("An argument named %q is not expected in a lab block; it takes name and allow_host_paths, and management and backend blocks.%s", name, didYouMean(name, []string{"name", "allow_host_paths"})), Subject: a.NameRange.Ptr()})
		}
	} else {
		for _, dd := range d {
			if dd.Summary == "Unexpected \"management\" block" || dd.Summary == "Unexpected \"backend\" block" {
				continue
			}
			diags = append(diags, dd)
		}
	}
	var backends hcl.Blocks
	for _, mb := range content.Blocks {
		if mb.Type == "backend" {
			backends = append(backends, mb)
			continue
		}
		diags = append(diags, l.decodeManagement(mb)...)
	}
	var d hcl.Diagnostics
	l.Backend, d = decodeLabBackends(backends, l.Dir, l.Backend)
	diags = append(diags, d...)
	for name, a := range content.Attributes {
		if name == "allow_host_paths" {
			diags = append(diags, decodeLiteral(a, cty.Bool, func(x cty.Value) { l.AllowHostPaths = x.True() })...)
			continue
		}
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if v.Type() != cty.String || v.IsNull() || !validName(v.AsString()) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid lab name",
				Detail: "A lab's name is a string of letters, digits, '_' and '-', starting with a letter.", Subject: a.Expr.Range().Ptr()})
			continue
		}
		l.Name = v.AsString()
	}
	return diags
}

// decodeManagement turns the lab's management block into the resource
// management_network.lab (see providers/mgmt.go): a resource the lab does
// not write as a block of its own, served by the management provider,
// whose attributes point at the management block's lines.
func (l *Lab) decodeManagement(b *hcl.Block) hcl.Diagnostics {
	ra := addr.Resource{Type: providers.ManagementType, Name: providers.ManagementName}
	if prev, dup := l.Resources[ra]; dup {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate management block",
			Detail: fmt.Sprintf("A lab has one management network; another management block was declared at %s.", prev.DeclRange), Subject: b.DefRange.Ptr()}}
	}
	schema, err := l.Registry.Schema(providers.ManagementProvider, providers.ManagementType)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Management networks are not available",
			Detail: err.Error(), Subject: b.DefRange.Ptr()}}
	}
	c, diags := decodeContent(b.Body, &schema.Block)
	r := &Resource{Addr: ra, Provider: providers.ManagementProvider, Schema: schema, Content: c, DeclRange: b.DefRange}
	l.Resources[ra] = r
	l.Order = append(l.Order, ra)
	return diags
}

// Management is the lab's management network resource, nil without a
// management block.
func (l *Lab) Management() *Resource {
	return l.Resources[addr.Resource{Type: providers.ManagementType, Name: providers.ManagementName}]
}

func (l *Lab) decodeVariable(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	diags := checkName("variable", name, b.LabelRanges[0])
	if prev, dup := l.Variables[name]; dup {
		return append(diags, duplicate("variable", name, b.DefRange, prev.DeclRange))
	}
	v := &Variable{Name: name, Type: cty.DynamicPseudoType, Default: cty.NilVal, DeclRange: b.DefRange}
	content, d := b.Body.Content(variableSchema)
	diags = append(diags, d...)
	if a, ok := content.Attributes["type"]; ok {
		ty, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type = ty
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeLiteral(a, cty.String, func(x cty.Value) { v.Description = x.AsString() })...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, decodeLiteral(a, cty.Bool, func(x cty.Value) { v.Sensitive = x.True() })...)
	}
	if a, ok := content.Attributes["default"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			conv, err := convertTo(val, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid default value for variable",
					Detail: fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", err), Subject: a.Expr.Range().Ptr()})
			} else {
				v.Default = conv
			}
		}
	}
	for _, vb := range content.Blocks {
		vc, d := vb.Body.Content(validationSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		val := &Validation{Condition: vc.Attributes["condition"].Expr, ErrorMessage: vc.Attributes["error_message"].Expr, DeclRange: vb.DefRange}
		for _, tr := range val.Condition.Variables() {
			if tr.RootName() != "var" || len(tr) < 2 || attrName(tr[1]) != name {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid reference in variable validation",
					Detail: fmt.Sprintf("A validation condition may refer only to the variable itself, var.%s.", name), Subject: tr.SourceRange().Ptr()})
			}
		}
		v.Validations = append(v.Validations, val)
	}
	l.Variables[name] = v
	return diags
}

func (l *Lab) decodeLocals(b *hcl.Block) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	for _, name := range sortedAttrNames(attrs) {
		a := attrs[name]
		diags = append(diags, checkName("local value", name, a.NameRange)...)
		if prev, dup := l.Locals[name]; dup {
			diags = append(diags, duplicate("local value", name, a.Range, prev.DeclRange))
			continue
		}
		l.Locals[name] = &Local{Name: name, Expr: a.Expr, DeclRange: a.Range}
	}
	return diags
}

func (l *Lab) decodeProvider(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	if _, ok := l.Registry.Provider(name); !ok {
		return hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown provider",
			Detail:  fmt.Sprintf("There is no provider named %q.%s Providers: %s.", name, didYouMean(name, l.Registry.Names()), strings.Join(l.Registry.Names(), ", ")),
			Subject: b.LabelRanges[0].Ptr()}}
	}
	if prev, dup := l.Providers[name]; dup {
		return hcl.Diagnostics{duplicate("provider", name, b.DefRange, prev.DeclRange)}
	}
	c, diags := decodeContent(b.Body, l.Registry.ConfigSchema(name))
	l.Providers[name] = &ProviderConfig{Name: name, Content: c, DeclRange: b.DefRange}
	return diags
}

func (l *Lab) decodeOutput(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	diags := checkName("output", name, b.LabelRanges[0])
	if prev, dup := l.Outputs[name]; dup {
		return append(diags, duplicate("output", name, b.DefRange, prev.DeclRange))
	}
	content, d := b.Body.Content(outputSchema)
	diags = append(diags, d...)
	o := &Output{Name: name, DeclRange: b.DefRange}
	if a, ok := content.Attributes["value"]; ok {
		o.Expr = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeLiteral(a, cty.String, func(x cty.Value) { o.Description = x.AsString() })...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, decodeLiteral(a, cty.Bool, func(x cty.Value) { o.Sensitive = x.True() })...)
	}
	if o.Expr != nil {
		l.Outputs[name] = o
	}
	return diags
}

// decodedResource is a resource block decoded ahead, on another core.
type decodedResource struct {
	r     *Resource
	diags hcl.Diagnostics
}

// addResource records a decoded resource block (r nil when it could not
// be), unless its address is taken.
func (l *Lab) addResource(b *hcl.Block, r *Resource, decodeDiags hcl.Diagnostics) hcl.Diagnostics {
	ra := addr.Resource{Type: b.Type, Name: b.Labels[0]}
	diags := checkName(b.Type, ra.Name, b.LabelRanges[0])
	if prev, dup := l.Resources[ra]; dup {
		return append(diags, duplicate(b.Type, ra.String(), b.DefRange, prev.DeclRange))
	}
	diags = append(diags, decodeDiags...)
	if r != nil {
		l.Resources[ra] = r
		l.Order = append(l.Order, ra)
	}
	return diags
}

// buildResource decodes a resource block without touching the lab, so
// that many decode at once.
func (l *Lab) buildResource(b *hcl.Block) (*Resource, hcl.Diagnostics) {
	ra := addr.Resource{Type: b.Type, Name: b.Labels[0]}
	var diags hcl.Diagnostics
	meta, fast := fastContent(b.Body, metaSchema, nil, true)
	var remain hcl.Body
	if !fast {
		var d hcl.Diagnostics
		meta, remain, d = b.Body.PartialContent(metaSchema)
		diags = append(diags, d...)
	}
	r := &Resource{Addr: ra, DeclRange: b.DefRange}

	// provider = NAME picks the schema, so it is read first.
	provName, ok := l.Registry.Default(b.Type)
	if !ok {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No provider for this resource type",
			Detail: fmt.Sprintf("No provider serves %s resources.", b.Type), Subject: b.TypeRange.Ptr()})
	}
	if a, ok := meta.Attributes["provider"]; ok {
		kw := hcl.ExprAsKeyword(a.Expr)
		if kw == "" {
			// provider = "qemu" is accepted too.
			if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				kw = v.AsString()
			}
		}
		candidates := l.Registry.ProvidersFor(b.Type)
		if !contains(candidates, kw) {
			return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid provider",
				Detail: fmt.Sprintf("A %s's provider is one of %s, written as a bare name (provider = %s).%s",
					b.Type, strings.Join(candidates, ", "), candidates[0], didYouMean(kw, candidates)),
				Subject: a.Expr.Range().Ptr()})
		}
		provName = kw
	}
	r.Provider = provName
	if a, ok := meta.Attributes["host"]; ok {
		var d hcl.Diagnostics
		r.Host, d = decodeHostRef(b.Type, a)
		r.HostRange = a.Expr.Range()
		diags = append(diags, d...)
	}
	schema, err := l.Registry.Schema(provName, b.Type)
	if err != nil {
		return nil, append(diags, sourceless("Provider error", err.Error()))
	}
	r.Schema = schema

	var repd hcl.Diagnostics
	r.Count, r.ForEach, r.DependsOn, repd = decodeRepetition(meta.Attributes, "A resource")
	diags = append(diags, repd...)
	for _, lb := range meta.Blocks {
		if lb.Type == "ready" {
			if r.Ready != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate ready block",
					Detail: fmt.Sprintf("A node has one ready block; another was declared at %s. Put every condition in one.", r.Ready.DeclRange), Subject: lb.DefRange.Ptr()})
				continue
			}
			rd, d := decodeReady(lb, b.Type)
			diags = append(diags, d...)
			r.Ready = rd
			continue
		}
		diags = append(diags, decodeLifecycle(lb, schema, &r.Lifecycle)...)
	}
	var c *Content
	var d hcl.Diagnostics
	if hc, ok := fastContent(b.Body, bodySchema(&schema.Block), metaSchema, false); fast && ok {
		c, d = decodeSplit(hc, nil, &schema.Block)
	} else {
		if remain == nil {
			_, remain, _ = b.Body.PartialContent(metaSchema)
		}
		c, d = decodeContent(remain, &schema.Block)
	}
	diags = append(diags, d...)
	r.Content = c
	return r, diags
}

func decodeLifecycle(b *hcl.Block, schema *providers.Schema, lc *Lifecycle) hcl.Diagnostics {
	content, diags := b.Body.Content(lifecycleSchema)
	if a, ok := content.Attributes["create_before_destroy"]; ok {
		diags = append(diags, decodeLiteral(a, cty.Bool, func(x cty.Value) { lc.CreateBeforeDestroy = x.True() })...)
		if lc.CreateBeforeDestroy && schema.Singleton != "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "create_before_destroy is not possible here",
				Detail: schema.Singleton + " Remove create_before_destroy: the old object is destroyed before the new one is created.", Subject: a.Range.Ptr()})
		}
	}
	if a, ok := content.Attributes["prevent_destroy"]; ok {
		diags = append(diags, decodeLiteral(a, cty.Bool, func(x cty.Value) { lc.PreventDestroy = x.True() })...)
	}
	if a, ok := content.Attributes["ignore_changes"]; ok {
		if hcl.ExprAsKeyword(a.Expr) == "all" {
			lc.IgnoreAll = true
			return diags
		}
		exprs, d := hcl.ExprList(a.Expr)
		diags = append(diags, d...)
		for _, e := range exprs {
			name := hcl.ExprAsKeyword(e)
			_, isAttr := schema.Attributes[name]
			_, isBlock := schema.Blocks[name]
			if !isAttr && !isBlock {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ignore_changes entry",
					Detail: fmt.Sprintf("ignore_changes lists attribute names of this resource, written bare (ignore_changes = [memory]), or is all.%s",
						didYouMean(name, append(sortedAttrKeys(schema.Attributes), sortedAttrKeys(schema.Blocks)...))),
					Subject: e.Range().Ptr()})
				continue
			}
			lc.IgnoreChanges = append(lc.IgnoreChanges, name)
		}
	}
	return diags
}

// decodeContent splits body by schema, recursively, once.
func decodeContent(body hcl.Body, schema *providers.Block) (*Content, hcl.Diagnostics) {
	hc, diags := body.Content(bodySchema(schema))
	return decodeSplit(hc, diags, schema)
}

// decodeBody is decodeContent for a block's body as the parser made it
// (not one that a PartialContent returned), through fastContent when it
// can.
func decodeBody(body hcl.Body, schema *providers.Block) (*Content, hcl.Diagnostics) {
	if hc, ok := fastContent(body, bodySchema(schema), nil, false); ok {
		return decodeSplit(hc, nil, schema)
	}
	return decodeContent(body, schema)
}

// decodeSplit is decodeContent for a body already split by the schema.
func decodeSplit(hc *hcl.BodyContent, diags hcl.Diagnostics, schema *providers.Block) (*Content, hcl.Diagnostics) {
	c := &Content{Attrs: hc.Attributes, Blocks: map[string][]*NestedContent{}, MissingRange: hc.MissingItemRange, Dynamic: map[string]bool{},
		vars: map[string][]hcl.Traversal{}}
	for name, a := range hc.Attributes {
		if vars := exprVariables(a.Expr); len(vars) > 0 {
			c.vars[name] = vars
			c.Dynamic[name] = true
			c.HasDynamic = true
		}
	}
	for _, b := range hc.Blocks {
		if b.Type == dynamicHeader.Type {
			typ, n, d := decodeDynamic(b, schema)
			diags = append(diags, d...)
			if n != nil {
				c.Blocks[typ] = append(c.Blocks[typ], n)
				c.HasDynamic = true
			}
			continue
		}
		nb := schema.Blocks[b.Type]
		n := &NestedContent{DefRange: b.DefRange, TypeRange: b.TypeRange}
		if len(b.Labels) > 0 {
			n.Label = b.Labels[0]
			if len(nb.Labels) > 0 && !contains(nb.Labels, n.Label) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s name", b.Type),
					Detail:  fmt.Sprintf("A %s block's label is one of %s.%s", b.Type, strings.Join(nb.Labels, ", "), didYouMean(n.Label, nb.Labels)),
					Subject: b.LabelRanges[0].Ptr()})
				continue
			}
		}
		inner, d := decodeBody(b.Body, nb.Block)
		diags = append(diags, d...)
		n.Content = inner
		c.HasDynamic = c.HasDynamic || inner.HasDynamic
		prev := c.Blocks[b.Type]
		if nb.Nesting == providers.NestingSingle && len(prev) > 0 && prev[0].Dyn == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + b.Type + " block",
				Detail: fmt.Sprintf("Only one %s block is allowed here; another was declared at %s.", b.Type, prev[0].DefRange), Subject: b.DefRange.Ptr()})
			continue
		}
		if nb.Nesting == providers.NestingMap {
			for _, p := range prev {
				if p.Dyn == nil && p.Label == n.Label {
					diags = append(diags, duplicate(b.Type, n.Label, b.DefRange, p.DefRange))
				}
			}
		}
		c.Blocks[b.Type] = append(prev, n)
	}
	for name, nb := range schema.Blocks {
		if n := len(c.Blocks[name]); nb.MinItems > 0 && n < nb.MinItems && !hasDynamic(c.Blocks[name]) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing " + name + " block",
				Detail: fmt.Sprintf("At least %d %s block(s) are required here.", nb.MinItems, name), Subject: hc.MissingItemRange.Ptr()})
		}
	}
	return c, diags
}

// decodeLiteral evaluates a constant attribute of type ty and hands it to set.
func decodeLiteral(a *hcl.Attribute, ty cty.Type, set func(cty.Value)) hcl.Diagnostics {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	v, err := convertTo(v, ty)
	if err != nil || v.IsNull() || !v.IsKnown() {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for " + a.Name,
			Detail: fmt.Sprintf("%s takes a constant %s.", a.Name, ty.FriendlyName()), Subject: a.Expr.Range().Ptr()})
	}
	set(v)
	return diags
}

func duplicate(kind, name string, rng, prev hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + kind,
		Detail:  fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique within a lab.", kind, name, prev),
		Subject: rng.Ptr()}
}

func checkName(kind, name string, rng hcl.Range) hcl.Diagnostics {
	if validName(name) {
		return nil
	}
	return hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + kind + " name",
		Detail:  "A name starts with a letter or underscore and holds only letters, digits, underscores and dashes.",
		Subject: rng.Ptr()}}
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || !(r == '-' || (r >= '0' && r <= '9'))) {
			return false
		}
	}
	return true
}

func sourceless(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
}

func sortedAttrNames(m hcl.Attributes) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortedAttrKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func attrName(t hcl.Traverser) string {
	switch t := t.(type) {
	case hcl.TraverseAttr:
		return t.Name
	case hcl.TraverseRoot:
		return t.Name
	}
	return ""
}

// decodeRepetition reads the meta-arguments a resource and a module call
// share: count or for_each (not both; what names the block in the
// diagnostic) and depends_on's traversals.
func decodeRepetition(attrs hcl.Attributes, what string) (count, forEach hcl.Expression, dependsOn []hcl.Traversal, diags hcl.Diagnostics) {
	if a, ok := attrs["count"]; ok {
		count = a.Expr
	}
	if a, ok := attrs["for_each"]; ok {
		forEach = a.Expr
		if count != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid combination of count and for_each",
				Detail: what + " may have count or for_each, not both.", Subject: a.NameRange.Ptr()})
		}
	}
	if a, ok := attrs["depends_on"]; ok {
		exprs, d := hcl.ExprList(a.Expr)
		diags = append(diags, d...)
		for _, e := range exprs {
			tr, d := hcl.AbsTraversalForExpr(e)
			diags = append(diags, d...)
			if !d.HasErrors() {
				dependsOn = append(dependsOn, tr)
			}
		}
	}
	return count, forEach, dependsOn, diags
}
