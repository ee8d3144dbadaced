package planner

import (
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/msgpack"
)

// TestDecodeOlderRecord: a record written before the schema gained an
// attribute, a defaulted argument and a list of blocks decodes with what
// a lab leaving them out gets; one holding an attribute the schema lost
// is an error.
func TestDecodeOlderRecord(t *testing.T) {
	s := &providers.Schema{Block: providers.Block{
		Attributes: map[string]*providers.Attribute{
			"rootfs":       providers.Optional(cty.String, providers.Replace, ""),
			"pid":          providers.Computed(cty.Number, ""),
			"image_digest": providers.Computed(cty.String, ""),
			"privileged":   providers.OptionalDefault(cty.False, providers.Replace, ""),
		},
		Blocks: map[string]*providers.NestedBlock{
			"file": {Nesting: providers.NestingList, Cost: providers.InPlace, Block: &providers.Block{Attributes: map[string]*providers.Attribute{
				"path": providers.Required(cty.String, providers.InPlace, "")}}},
			"user": {Nesting: providers.NestingSingle, Cost: providers.Replace, Block: &providers.Block{Attributes: map[string]*providers.Attribute{
				"uid": providers.Optional(cty.Number, providers.Replace, "")}}},
		},
	}}
	s.Finalize()
	for _, tc := range []struct {
		name  string
		old   map[string]cty.Value
		want  map[string]cty.Value
		fails bool
	}{
		{
			name: "gained attributes and blocks",
			old:  map[string]cty.Value{"rootfs": cty.StringVal("rootfs"), "pid": cty.NumberIntVal(42)},
			want: map[string]cty.Value{"rootfs": cty.StringVal("rootfs"), "pid": cty.NumberIntVal(42), "image_digest": cty.NullVal(cty.String),
				"privileged": cty.False, "file": cty.ListValEmpty(s.Blocks["file"].Block.ImpliedType()), "user": cty.NullVal(s.Blocks["user"].Block.ImpliedType())},
		},
		{
			name:  "lost an attribute",
			old:   map[string]cty.Value{"rootfs": cty.StringVal("rootfs"), "gone": cty.True},
			fails: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := cty.ObjectVal(tc.old)
			b, err := msgpack.Marshal(v, v.Type())
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeValue(s, b)
			if tc.fails {
				if err == nil {
					t.Fatalf("decoded %#v; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := cty.ObjectVal(tc.want); !got.RawEquals(want) {
				t.Fatalf("got %#v\nwant %#v", got, want)
			}
		})
	}
}
