package addr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// KeyKind says whether an instance key is absent, a count index or a
// for_each key.
type KeyKind uint8

const (
	NoKey KeyKind = iota
	IntKey
	StringKey
)

// Key identifies one instance of a resource with count or for_each.
type Key struct {
	Kind KeyKind
	Int  int
	Str  string
}

// Int returns a count key.
func Int(i int) Key { return Key{Kind: IntKey, Int: i} }

// Str returns a for_each key.
func Str(s string) Key { return Key{Kind: StringKey, Str: s} }

func (k Key) String() string {
	switch k.Kind {
	case IntKey:
		return "[" + strconv.Itoa(k.Int) + "]"
	case StringKey:
		return "[" + strconv.Quote(k.Str) + "]"
	}
	return ""
}

// Resource names a resource block: vm.leaf, or module.pod[1].vm.leaf for
// one in a module instance.
type Resource struct {
	Type, Name string
	// Module is the module instance path, "" at the root:
	// module.pod[1], or module.a.module.b["x"] for a nested one.
	Module string
}

func (r Resource) String() string {
	if r.Module != "" {
		return r.Module + "." + r.Type + "." + r.Name
	}
	return r.Type + "." + r.Name
}

// Local is r without its module path: the resource as its module's files
// declare it.
func (r Resource) Local() Resource { return Resource{Type: r.Type, Name: r.Name} }

// ModuleStep is one step of a module path: the call's name and the key of
// its instance.
type ModuleStep struct {
	Name string
	Key  Key
}

func (s ModuleStep) String() string { return "module." + s.Name + s.Key.String() }

// ModulePath writes steps as a module path (module.a[0].module.b).
func ModulePath(steps []ModuleStep) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

// ChildModule is the path of the instance key of the module call name
// within the module instance parent ("" for the root).
func ChildModule(parent, name string, key Key) string {
	s := ModuleStep{Name: name, Key: key}.String()
	if parent == "" {
		return s
	}
	return parent + "." + s
}

// Instance returns the address of one of r's instances.
func (r Resource) Instance(k Key) Instance { return Instance{Resource: r, Key: k} }

// Instance names one instance: vm.leaf[1].
type Instance struct {
	Resource
	Key Key
}

func (a Instance) String() string { return a.Resource.String() + a.Key.String() }

// Less orders addresses: by module path (numbers numerically), type,
// name, then key (numbers numerically).
func (a Instance) Less(b Instance) bool {
	if a.Module != b.Module {
		return naturalLess(a.Module, b.Module)
	}
	if a.Type != b.Type {
		return a.Type < b.Type
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	if a.Key.Kind != b.Key.Kind {
		return a.Key.Kind < b.Key.Kind
	}
	if a.Key.Kind == IntKey {
		return a.Key.Int < b.Key.Int
	}
	return a.Key.Str < b.Key.Str
}

// Target is what -target, -exclude and -replace take: a whole resource
// (all its instances), one instance, or a module: module.pod[1] (that
// instance of the call, with everything in it) or module.pod (every
// instance of the call).
type Target struct {
	Instance
	Whole bool // no key given: every instance of the resource
	// ModuleOnly is set for a module target: Module holds the path, Type
	// and Name are empty, and Whole says that the last call's key was
	// left out.
	ModuleOnly bool
}

// Matches reports whether a is within the target.
func (t Target) Matches(a Instance) bool {
	if t.ModuleOnly {
		return WithinModule(a.Module, t.Module, t.Whole)
	}
	if t.Whole {
		return a.Resource == t.Resource
	}
	return a == t.Instance
}

// WithinModule reports whether the module instance path m is path or
// below it; anyKey makes path's last call match any of its keys.
func WithinModule(m, path string, anyKey bool) bool {
	if m == path {
		return true
	}
	if !strings.HasPrefix(m, path) {
		return false
	}
	switch m[len(path)] {
	case '.':
		return true
	case '[':
		return anyKey
	}
	return false
}

func (t Target) String() string {
	if t.ModuleOnly {
		return t.Module
	}
	if t.Whole {
		return t.Resource.String()
	}
	return t.Instance.String()
}

// ParseTarget parses "vm.leaf", "vm.leaf[1]" or `container.host["a"]`,
// each with an optional module path before it (module.pod[1].vm.leaf),
// or a module path alone (module.pod[1], module.pod).
func ParseTarget(s string) (Target, error) {
	trav, diags := hclsyntax.ParseTraversalAbs([]byte(s), "", hcl.InitialPos)
	if diags.HasErrors() {
		return Target{}, fmt.Errorf("invalid address %q: %s", s, diags[0].Summary)
	}
	steps, trav, wholeModule, err := parseModulePrefix(s, trav)
	if err != nil {
		return Target{}, err
	}
	mod := ModulePath(steps)
	if len(trav) == 0 {
		t := Target{ModuleOnly: true, Whole: wholeModule}
		t.Module = mod
		return t, nil
	}
	if len(trav) < 2 || len(trav) > 3 {
		return Target{}, fmt.Errorf("invalid address %q: want TYPE.NAME or TYPE.NAME[KEY]", s)
	}
	var t Target
	t.Module = mod
	t.Type = trav.RootName()
	attr, ok := trav[1].(hcl.TraverseAttr)
	if !ok {
		return Target{}, fmt.Errorf("invalid address %q: want TYPE.NAME", s)
	}
	t.Name = attr.Name
	if len(trav) == 2 {
		t.Whole = true
		return t, nil
	}
	idx, ok := trav[2].(hcl.TraverseIndex)
	if !ok {
		return Target{}, fmt.Errorf("invalid address %q: want an index after the name", s)
	}
	k, err := parseKey(s, idx)
	if err != nil {
		return Target{}, err
	}
	t.Key = k
	return t, nil
}

// parseModulePrefix takes the module path off the front of trav.
func parseModulePrefix(s string, trav hcl.Traversal) ([]ModuleStep, hcl.Traversal, bool, error) {
	var steps []ModuleStep
	wholeModule := false
	for len(trav) > 0 && trav.RootName() == "module" {
		if len(trav) < 2 {
			return nil, nil, false, fmt.Errorf("invalid address %q: want module.NAME", s)
		}
		attr, ok := trav[1].(hcl.TraverseAttr)
		if !ok {
			return nil, nil, false, fmt.Errorf("invalid address %q: want module.NAME", s)
		}
		step := ModuleStep{Name: attr.Name}
		rest := trav[2:]
		wholeModule = true
		if len(rest) > 0 {
			if idx, ok := rest[0].(hcl.TraverseIndex); ok {
				k, err := parseKey(s, idx)
				if err != nil {
					return nil, nil, false, err
				}
				step.Key, wholeModule = k, false
				rest = rest[1:]
			}
		}
		steps = append(steps, step)
		if len(rest) == 0 {
			trav = nil
			break
		}
		a, ok := rest[0].(hcl.TraverseAttr)
		if !ok {
			return nil, nil, false, fmt.Errorf("invalid address %q: want a name after %s", s, ModulePath(steps))
		}
		trav = append(hcl.Traversal{hcl.TraverseRoot{Name: a.Name, SrcRange: a.SrcRange}}, rest[1:]...)
		wholeModule = false
	}
	return steps, trav, wholeModule, nil
}

// ParseModule parses a module instance path (module.pod[1].module.x).
func ParseModule(path string) ([]ModuleStep, error) {
	trav, diags := hclsyntax.ParseTraversalAbs([]byte(path), "", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("invalid module path %q: %s", path, diags[0].Summary)
	}
	steps, rest, _, err := parseModulePrefix(path, trav)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 || len(steps) == 0 {
		return nil, fmt.Errorf("invalid module path %q: want module.NAME[KEY]", path)
	}
	return steps, nil
}

func parseKey(s string, idx hcl.TraverseIndex) (Key, error) {
	switch {
	case idx.Key.Type().FriendlyName() == "number":
		bf := idx.Key.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || i < 0 {
			return Key{}, fmt.Errorf("invalid address %q: an index is a whole number", s)
		}
		return Int(int(i)), nil
	case idx.Key.Type().FriendlyName() == "string":
		return Str(idx.Key.AsString()), nil
	}
	return Key{}, fmt.Errorf("invalid address %q: an index is a number or a string", s)
}

// naturalLess compares strings with runs of digits compared as numbers,
// so that module.pod[2] comes before module.pod[10].
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// ParseInstance parses one instance's address. Addresses that labform
// wrote itself (type.name, type.name[3]) take a fast path: state and plans
// hold thousands of them.
func ParseInstance(s string) (Instance, error) {
	if ia, ok := parseSimple(s); ok {
		return ia, nil
	}
	t, err := ParseTarget(strings.TrimSpace(s))
	if err != nil {
		return Instance{}, err
	}
	if t.ModuleOnly {
		return Instance{}, fmt.Errorf("invalid address %q: a module, not a resource instance", s)
	}
	return t.Instance, nil
}

// parseSimple parses type.name and type.name[N] without the HCL parser.
func parseSimple(s string) (Instance, bool) {
	dot := strings.IndexByte(s, '.')
	if dot <= 0 {
		return Instance{}, false
	}
	typ, rest := s[:dot], s[dot+1:]
	if typ == "module" {
		return Instance{}, false
	}
	name, key := rest, ""
	if i := strings.IndexByte(rest, '['); i >= 0 {
		if !strings.HasSuffix(rest, "]") {
			return Instance{}, false
		}
		name, key = rest[:i], rest[i+1:len(rest)-1]
	}
	if !isIdent(typ) || !isIdent(name) {
		return Instance{}, false
	}
	ia := Instance{Resource: Resource{Type: typ, Name: name}}
	if key == "" {
		return ia, !strings.Contains(rest, "[")
	}
	n, err := strconv.Atoi(key)
	if err != nil || n < 0 || strconv.Itoa(n) != key {
		return Instance{}, false // string keys and odd numbers: the full parser
	}
	ia.Key = Int(n)
	return ia, true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && (r == '-' || (r >= '0' && r <= '9')))
		if !ok {
			return false
		}
	}
	return true
}
