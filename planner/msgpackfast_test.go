package planner

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/msgpack"
)

// fastSchema has a value of every shape the fast encoder takes.
var fastSchema = (&providers.Schema{Block: providers.Block{
	Attributes: map[string]*providers.Attribute{
		"s":    providers.Optional(cty.String, providers.InPlace, ""),
		"n":    providers.Optional(cty.Number, providers.InPlace, ""),
		"b":    providers.Optional(cty.Bool, providers.InPlace, ""),
		"l":    providers.Optional(cty.List(cty.String), providers.InPlace, ""),
		"set":  providers.Optional(cty.Set(cty.Number), providers.InPlace, ""),
		"m":    providers.Optional(cty.Map(cty.List(cty.String)), providers.InPlace, ""),
		"t":    providers.Optional(cty.Tuple([]cty.Type{cty.String, cty.Number}), providers.InPlace, ""),
		"objs": providers.Optional(cty.List(cty.Object(map[string]cty.Type{"z": cty.String, "a": cty.Number, "M": cty.Bool})), providers.InPlace, ""),
	},
}}).Finalize()

// TestFastEncode_sameBytesAsCty: the fast encoder writes what cty's
// msgpack.Marshal writes, byte for byte, or declines: numbers of every
// kind, long strings and lists (the msgpack length forms), nulls, sets,
// maps and objects in key order; unknowns, marks and dynamic values
// decline.
func TestFastEncode_sameBytesAsCty(t *testing.T) {
	ty := fastSchema.ImpliedType()
	atys := ty.AttributeTypes()
	numbers := []cty.Value{cty.NumberIntVal(0), cty.NumberIntVal(127), cty.NumberIntVal(128), cty.NumberIntVal(255), cty.NumberIntVal(256),
		cty.NumberIntVal(65536), cty.NumberIntVal(-1), cty.NumberIntVal(-32), cty.NumberIntVal(-33), cty.NumberIntVal(-200), cty.NumberIntVal(-40000),
		cty.NumberIntVal(math.MaxInt64), cty.NumberIntVal(math.MinInt64), cty.NumberUIntVal(math.MaxUint64), cty.NumberFloatVal(0.5),
		cty.NumberFloatVal(-1e300), cty.NumberFloatVal(1.0 / 3), cty.PositiveInfinity, cty.NegativeInfinity,
		cty.NumberVal(new(big.Float).SetPrec(512).Quo(big.NewFloat(1), big.NewFloat(3).SetPrec(512)))}
	str := func(n int) cty.Value { return cty.StringVal(fmt.Sprintf("%*s", n, "é")) }
	rng := rand.New(rand.NewPCG(1, 2))
	base := func() map[string]cty.Value {
		m := map[string]cty.Value{}
		for k, at := range atys {
			m[k] = cty.NullVal(at)
		}
		return m
	}
	var cases []cty.Value
	for _, n := range numbers {
		m := base()
		m["n"] = n
		cases = append(cases, cty.ObjectVal(m))
	}
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536} {
		m := base()
		m["s"] = str(n)
		cases = append(cases, cty.ObjectVal(m))
	}
	for _, n := range []int{0, 1, 15, 16, 200, 70000} {
		m := base()
		var l, objs []cty.Value
		for i := 0; i < n; i++ {
			l = append(l, cty.StringVal(fmt.Sprint(rng.IntN(1000))))
			objs = append(objs, cty.ObjectVal(map[string]cty.Value{"z": cty.StringVal("x"), "a": cty.NumberIntVal(int64(rng.IntN(70000))), "M": cty.BoolVal(i%2 == 0)}))
		}
		m["l"], m["objs"] = cty.ListValEmpty(cty.String), cty.ListValEmpty(atys["objs"].ElementType())
		if n > 0 {
			m["l"], m["objs"] = cty.ListVal(l), cty.ListVal(objs)
		}
		m["set"] = cty.SetVal([]cty.Value{cty.NumberIntVal(3), cty.NumberIntVal(1), cty.NumberFloatVal(2.5)})
		m["m"] = cty.MapVal(map[string]cty.Value{"b": cty.ListVal([]cty.Value{cty.StringVal("1")}), "a": cty.ListValEmpty(cty.String)})
		m["t"] = cty.TupleVal([]cty.Value{cty.StringVal("x"), cty.NumberIntVal(-5)})
		m["b"] = cty.True
		cases = append(cases, cty.ObjectVal(m))
	}
	cases = append(cases, cty.NullVal(ty))
	for i, v := range cases {
		want, err := msgpack.Marshal(v, ty)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fastEncode(fastSchema, v)
		if err != nil {
			t.Fatalf("case %d: the fast encoder declined: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: %d bytes differ from cty's %d", i, len(got), len(want))
		}
		if enc, _ := encodeValue(fastSchema, v); !bytes.Equal(enc, want) {
			t.Fatalf("case %d: encodeValue differs", i)
		}
	}
	// Declined, and encodeValue still right.
	dynSchema := (&providers.Schema{Block: providers.Block{Attributes: map[string]*providers.Attribute{
		"dyn": providers.Optional(cty.DynamicPseudoType, providers.InPlace, ""),
	}}}).Finalize()
	if _, err := fastEncode(dynSchema, cty.ObjectVal(map[string]cty.Value{"dyn": cty.StringVal("x")})); err == nil {
		t.Fatal("a dynamic attribute was encoded")
	}
	m2 := base()
	m2["s"] = cty.UnknownVal(cty.String)
	m3 := base()
	m3["s"] = cty.StringVal("secret").Mark("sensitive")
	other := cty.ObjectVal(map[string]cty.Value{"s": cty.StringVal("x")})
	for i, v := range []cty.Value{cty.ObjectVal(m2), cty.ObjectVal(m3), other} {
		if _, err := fastEncode(fastSchema, v); err == nil {
			t.Fatalf("declined case %d was encoded", i)
		}
		want, werr := msgpack.Marshal(v, ty)
		got, gerr := encodeValue(fastSchema, v)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("declined case %d: encodeValue gives %v/%v, cty %v/%v", i, len(got), gerr, len(want), werr)
		}
	}
}

// BenchmarkEncodeChain10k encodes a value shaped like a firewall chain of
// 10,000 rules, with the fast encoder and with cty's.
func BenchmarkEncodeChain10k(b *testing.B) {
	rule := cty.Object(map[string]cty.Type{"action": cty.String, "protocol": cty.String, "source": cty.String, "destination": cty.String,
		"sport": cty.String, "dport": cty.String, "in_interface": cty.String, "out_interface": cty.String, "state": cty.List(cty.String), "comment": cty.String})
	s := (&providers.Schema{Block: providers.Block{Attributes: map[string]*providers.Attribute{
		"name":  providers.Optional(cty.String, providers.InPlace, ""),
		"rules": providers.Optional(cty.List(rule), providers.InPlace, ""),
	}}}).Finalize()
	var rules []cty.Value
	for i := 0; i < 10000; i++ {
		rules = append(rules, cty.ObjectVal(map[string]cty.Value{"action": cty.StringVal("accept"), "protocol": cty.StringVal("tcp"),
			"source": cty.StringVal(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)), "destination": cty.NullVal(cty.String), "sport": cty.NullVal(cty.String),
			"dport": cty.StringVal(fmt.Sprint(1000 + i)), "in_interface": cty.StringVal("eth0"), "out_interface": cty.NullVal(cty.String),
			"state": cty.ListVal([]cty.Value{cty.StringVal("NEW")}), "comment": cty.StringVal("rule")}))
	}
	v := cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("big"), "rules": cty.ListVal(rules)})
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := fastEncode(s, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cty", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := msgpack.Marshal(v, s.ImpliedType()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
