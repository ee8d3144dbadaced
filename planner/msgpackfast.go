package planner

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"sort"
	"sync"

	"github.com/labform/labform/providers"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
	"github.com/zclconf/go-cty/cty"
)

// A fast path for encodeValue. cty's msgpack.Marshal sorts every object's
// attribute names, builds a path step and a string value for each
// attribute, and copies every number: a firewall chain of 10,000 rules
// took 60 - 80 ms of CPU to encode, beside the iptables-restore it waits
// for. The encoder below writes the same bytes (msgpack's forms as the
// encoder cty uses writes them, the same choices for numbers) from a plan
// made once per schema: sorted names and child plans. It takes only what it knows: a value of exactly
// the schema's type, without marks, unknowns or dynamic types. Anything
// else is left to msgpack.Marshal, which is the reference.

// errNotFast says the value needs msgpack.Marshal.
var errNotFast = errors.New("not for the fast encoder")

// encPlan is how to write a value of one type.
type encPlan struct {
	prim     cty.Type // cty.String, cty.Number or cty.Bool; NilType otherwise
	object   bool
	names    []string // sorted attribute names of an object
	attrs    []*encPlan
	seq      bool     // a list or a set
	mapping  bool     // a map
	elem     *encPlan // of a list, set or map
	tuple    bool
	elements []*encPlan // of a tuple
}

// planFor makes the plan of ty; nil when ty holds a type the fast
// encoder leaves to msgpack.Marshal (dynamic, capsule).
func planFor(ty cty.Type) *encPlan {
	switch {
	case ty == cty.String || ty == cty.Number || ty == cty.Bool:
		return &encPlan{prim: ty}
	case ty.IsObjectType():
		atys := ty.AttributeTypes()
		p := &encPlan{object: true, names: make([]string, 0, len(atys))}
		for k := range atys {
			p.names = append(p.names, k)
		}
		sort.Strings(p.names)
		for _, k := range p.names {
			c := planFor(atys[k])
			if c == nil {
				return nil
			}
			p.attrs = append(p.attrs, c)
		}
		return p
	case ty.IsListType() || ty.IsSetType() || ty.IsMapType():
		c := planFor(ty.ElementType())
		if c == nil {
			return nil
		}
		return &encPlan{seq: !ty.IsMapType(), mapping: ty.IsMapType(), elem: c}
	case ty.IsTupleType():
		p := &encPlan{tuple: true}
		for _, ety := range ty.TupleElementTypes() {
			c := planFor(ety)
			if c == nil {
				return nil
			}
			p.elements = append(p.elements, c)
		}
		return p
	}
	return nil
}

// schemaPlan is a schema's type with its plan, made once.
type schemaPlan struct {
	ty   cty.Type
	plan *encPlan
}

var schemaPlans sync.Map // *providers.Schema -> *schemaPlan

// fastEncode writes v as msgpack.Marshal(v, s.ImpliedType()) would, or
// answers errNotFast.
func fastEncode(s *providers.Schema, v cty.Value) ([]byte, error) {
	sp, ok := schemaPlans.Load(s)
	if !ok {
		ty := s.ImpliedType()
		sp, _ = schemaPlans.LoadOrStore(s, &schemaPlan{ty: ty, plan: planFor(ty)})
	}
	p := sp.(*schemaPlan)
	if p.plan == nil || !v.Type().Equals(p.ty) {
		return nil, errNotFast
	}
	return p.plan.append(make([]byte, 0, 512), v)
}

// The msgpack forms, as vmihailenco/msgpack's encoder writes them with
// compact integers and without compact floats (cty's settings).

func appendNil(b []byte) []byte { return append(b, msgpcode.Nil) }

func appendBool(b []byte, t bool) []byte {
	if t {
		return append(b, msgpcode.True)
	}
	return append(b, msgpcode.False)
}

func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= math.MaxInt8:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, msgpcode.Uint8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, msgpcode.Uint16), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, msgpcode.Uint32), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, msgpcode.Uint64), n)
}

func appendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return appendUint(b, uint64(n))
	case n >= int64(int8(msgpcode.NegFixedNumLow)):
		return append(b, byte(n))
	case n >= math.MinInt8:
		return append(b, msgpcode.Int8, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, msgpcode.Int16), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, msgpcode.Int32), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, msgpcode.Int64), uint64(n))
}

func appendFloat64(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, msgpcode.Double), math.Float64bits(f))
}

func appendString(b []byte, s string) []byte {
	switch l := len(s); {
	case l < 32:
		b = append(b, msgpcode.FixedStrLow|byte(l))
	case l < 256:
		b = append(b, msgpcode.Str8, byte(l))
	case l <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, msgpcode.Str16), uint16(l))
	default:
		b = binary.BigEndian.AppendUint32(append(b, msgpcode.Str32), uint32(l))
	}
	return append(b, s...)
}

func appendLen(b []byte, l int, fixed, c16, c32 byte) []byte {
	switch {
	case l < 16:
		return append(b, fixed|byte(l))
	case l <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, c16), uint16(l))
	}
	return binary.BigEndian.AppendUint32(append(b, c32), uint32(l))
}

// append writes v, of the plan's type, as cty's marshal does.
func (p *encPlan) append(b []byte, v cty.Value) ([]byte, error) {
	if v.IsMarked() || !v.IsKnown() {
		return nil, errNotFast
	}
	if v.IsNull() {
		return appendNil(b), nil
	}
	switch {
	case p.prim == cty.String:
		return appendString(b, v.AsString()), nil
	case p.prim == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInf() {
			return appendFloat64(b, math.Inf(bf.Sign())), nil
		}
		if iv, acc := bf.Int64(); acc == big.Exact {
			return appendInt(b, iv), nil
		} else if fv, acc := bf.Float64(); acc == big.Exact && !bf.IsInt() {
			return appendFloat64(b, fv), nil
		}
		return appendString(b, bf.Text('f', -1)), nil
	case p.prim == cty.Bool:
		return appendBool(b, v.True()), nil
	case p.object:
		b = appendLen(b, len(p.names), msgpcode.FixedMapLow, msgpcode.Map16, msgpcode.Map32)
		var err error
		for i, k := range p.names {
			b = appendString(b, k)
			if b, err = p.attrs[i].append(b, v.GetAttr(k)); err != nil {
				return nil, err
			}
		}
		return b, nil
	case p.seq, p.mapping, p.tuple:
		n := v.LengthInt()
		if p.tuple {
			n = len(p.elements)
		}
		if p.mapping {
			b = appendLen(b, n, msgpcode.FixedMapLow, msgpcode.Map16, msgpcode.Map32)
		} else {
			b = appendLen(b, n, msgpcode.FixedArrayLow, msgpcode.Array16, msgpcode.Array32)
		}
		i := 0
		var err error
		for it := v.ElementIterator(); it.Next(); i++ {
			k, ev := it.Element()
			if p.mapping {
				b = appendString(b, k.AsString())
			}
			c := p.elem
			if p.tuple {
				c = p.elements[i]
			}
			if b, err = c.append(b, ev); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, errNotFast
}
