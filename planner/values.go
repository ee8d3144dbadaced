package planner

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	vmsgpack "github.com/vmihailenco/msgpack/v5"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/msgpack"
)

// encodeValue serializes v (which may hold unknowns) as the schema's type.
func encodeValue(s *providers.Schema, v cty.Value) ([]byte, error) {
	if b, err := fastEncode(s, v); err == nil {
		return b, nil
	}
	return msgpack.Marshal(v, s.ImpliedType())
}

func decodeValue(s *providers.Schema, b []byte) (cty.Value, error) {
	v, err := msgpack.Unmarshal(b, s.ImpliedType())
	if err != nil {
		// A record written before the schema gained attributes or blocks
		// (by an older labform): what it has, and for the rest what a lab
		// that leaves them out gets.
		if older, oerr := decodeOlder(&s.Block, b); oerr == nil {
			return older, nil
		}
	}
	return v, err
}

// decodeOlder decodes an object that lacks some of the block's attributes
// and blocks, and gives those their defaults: an optional argument its
// default, a computed attribute null, a list or map of blocks none.
func decodeOlder(b *providers.Block, data []byte) (cty.Value, error) {
	dec := vmsgpack.NewDecoder(bytes.NewReader(data))
	n, err := dec.DecodeMapLen()
	if err != nil || n < 0 {
		return cty.NilVal, fmt.Errorf("not an object")
	}
	full := b.ImpliedType().AttributeTypes()
	have := map[string]cty.Type{}
	for i := 0; i < n; i++ {
		k, err := dec.DecodeString()
		if err != nil {
			return cty.NilVal, err
		}
		t, ok := full[k]
		if !ok {
			return cty.NilVal, fmt.Errorf("attribute %q is no longer in the schema", k)
		}
		have[k] = t
		if err := dec.Skip(); err != nil {
			return cty.NilVal, err
		}
	}
	v, err := msgpack.Unmarshal(data, cty.Object(have))
	if err != nil || !v.IsKnown() || v.IsNull() {
		return cty.NilVal, fmt.Errorf("not a known object")
	}
	m := v.AsValueMap()
	if m == nil {
		m = map[string]cty.Value{}
	}
	for name, a := range b.Attributes {
		if _, ok := m[name]; ok {
			continue
		}
		m[name] = cty.NullVal(a.Type)
		if !a.Computed && a.Default != cty.NilVal {
			m[name] = a.Default
		}
	}
	for name, nb := range b.Blocks {
		if _, ok := m[name]; ok {
			continue
		}
		et := nb.Block.ImpliedType()
		switch nb.Nesting {
		case providers.NestingList:
			m[name] = cty.ListValEmpty(et)
		case providers.NestingMap:
			m[name] = cty.MapValEmpty(et)
		default:
			m[name] = cty.NullVal(et)
		}
	}
	return cty.ObjectVal(m), nil
}

func addrStrings(as []addr.Instance) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

func parseAddrs(ss []string) []addr.Instance {
	out := make([]addr.Instance, 0, len(ss))
	for _, s := range ss {
		if a, err := addr.ParseInstance(s); err == nil {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// pathString renders a cty.Path as a.b[0]["k"].
func pathString(p cty.Path) string {
	s := ""
	for _, step := range p {
		switch st := step.(type) {
		case cty.GetAttrStep:
			if s != "" {
				s += "."
			}
			s += st.Name
		case cty.IndexStep:
			if st.Key.Type() == cty.String {
				s += fmt.Sprintf("[%q]", st.Key.AsString())
			} else {
				bf := st.Key.AsBigFloat()
				s += "[" + bf.Text('f', -1) + "]"
			}
		}
	}
	return s
}

func pathStrings(ps []cty.Path) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = pathString(p)
	}
	return out
}

// parsePaths reads back what pathStrings wrote (attribute steps and
// indexes), enough to hide sensitive values again.
func parsePaths(ss []string) []cty.Path {
	var out []cty.Path
	for _, s := range ss {
		var p cty.Path
		name := ""
		flush := func() {
			if name != "" {
				p = append(p, cty.GetAttrStep{Name: name})
				name = ""
			}
		}
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '.':
				flush()
			case '[':
				flush()
				j := i + 1
				for j < len(s) && s[j] != ']' {
					j++
				}
				key := s[i+1 : j]
				if len(key) > 1 && key[0] == '"' {
					p = append(p, cty.IndexStep{Key: cty.StringVal(key[1 : len(key)-1])})
				} else {
					var n int64
					fmt.Sscan(key, &n)
					p = append(p, cty.IndexStep{Key: cty.NumberIntVal(n)})
				}
				i = j
			default:
				name += string(s[i])
			}
		}
		flush()
		out = append(out, p)
	}
	return out
}

// DecodeRecord decodes a state record's value with its schema.
func DecodeRecord(reg *providers.Registry, typ, provider string, b []byte) (cty.Value, *providers.Schema, error) {
	s, err := reg.Schema(provider, typ)
	if err != nil {
		return cty.NilVal, nil, err
	}
	v, err := decodeValue(s, b)
	return v, s, err
}

// EncodeRecord encodes a value for a state record.
func EncodeRecord(reg *providers.Registry, typ, provider string, v cty.Value) ([]byte, error) {
	s, err := reg.Schema(provider, typ)
	if err != nil {
		return nil, err
	}
	return encodeValue(s, v)
}
