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

// Resource names a resource block: vm.leaf.
type Resource struct {
	Type, Name string
}

func (r Resource) String() string { return r.Type + "." + r.Name }

// Instance returns the address of one of r's instances.
func (r Resource) Instance(k Key) Instance { return Instance{Resource: r, Key: k} }

// Instance names one instance: vm.leaf[1].
type Instance struct {
	Resource
	Key Key
}

func (a Instance) String() string { return a.Resource.String() + a.Key.String() }

// Less orders addresses: by type, name, then key (numbers numerically).
func (a Instance) Less(b Instance) bool {
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
// (all its instances) or one instance.
type Target struct {
	Instance
	Whole bool // no key given: every instance of the resource
}

// Matches reports whether a is within the target.
func (t Target) Matches(a Instance) bool {
	if t.Whole {
		return a.Resource == t.Resource
	}
	return a == t.Instance
}

func (t Target) String() string {
	if t.Whole {
		return t.Resource.String()
	}
	return t.Instance.String()
}

// ParseTarget parses "vm.leaf", "vm.leaf[1]" or `container.host["a"]`.
func ParseTarget(s string) (Target, error) {
	trav, diags := hclsyntax.ParseTraversalAbs([]byte(s), "", hcl.InitialPos)
	if diags.HasErrors() {
		return Target{}, fmt.Errorf("invalid address %q: %s", s, diags[0].Summary)
	}
	if len(trav) < 2 || len(trav) > 3 {
		return Target{}, fmt.Errorf("invalid address %q: want TYPE.NAME or TYPE.NAME[KEY]", s)
	}
	var t Target
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
	switch {
	case idx.Key.Type().FriendlyName() == "number":
		bf := idx.Key.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || i < 0 {
			return Target{}, fmt.Errorf("invalid address %q: an index is a whole number", s)
		}
		t.Key = Int(int(i))
	case idx.Key.Type().FriendlyName() == "string":
		t.Key = Str(idx.Key.AsString())
	default:
		return Target{}, fmt.Errorf("invalid address %q: an index is a number or a string", s)
	}
	return t, nil
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
	return t.Instance, nil
}

// parseSimple parses type.name and type.name[N] without the HCL parser.
func parseSimple(s string) (Instance, bool) {
	dot := strings.IndexByte(s, '.')
	if dot <= 0 {
		return Instance{}, false
	}
	typ, rest := s[:dot], s[dot+1:]
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
