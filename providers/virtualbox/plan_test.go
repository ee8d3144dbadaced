package virtualbox

import (
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// TestPlanComputed: MAC addresses from a base are known at plan time;
// VirtualBox's own ones stay known over an update (a restart included)
// while the adapters stay, and are unknown for a new clone.
func TestPlanComputed(t *testing.T) {
	p := New()
	schema := p.Schemas()["vm"]
	schema.Finalize()
	val := func(mac string, adapters int64, macs ...string) cty.Value {
		m := map[string]cty.Value{}
		for name, a := range schema.Attributes {
			m[name] = cty.NullVal(a.Type)
		}
		for name, nb := range schema.Blocks {
			m[name] = cty.NullVal(nb.ImpliedType())
		}
		m["adapters"], m["adapter_start_index"] = cty.NumberIntVal(adapters), cty.NumberIntVal(0)
		if mac != "" {
			m["mac_address"] = cty.StringVal(mac)
		}
		m["mac_addresses"] = cty.UnknownVal(cty.List(cty.String))
		if macs != nil {
			var l []cty.Value
			for _, s := range macs {
				l = append(l, cty.StringVal(s))
			}
			m["mac_addresses"] = cty.ListVal(l)
		}
		return cty.ObjectVal(m)
	}
	macsOf := func(v cty.Value) cty.Value { return v.GetAttr("mac_addresses") }
	based := p.PlanComputed(providers.PlanRequest{Type: "vm", Addr: "vm.a", Prior: cty.NullVal(val("", 2).Type()), Planned: val("08:00:27:00:10:00", 2), Cost: providers.Replace})
	if want := cty.ListVal([]cty.Value{cty.StringVal("08:00:27:00:10:00"), cty.StringVal("08:00:27:00:10:01")}); !macsOf(based).RawEquals(want) {
		t.Errorf("from a base: %#v", macsOf(based))
	}
	prior := val("", 2, "08:00:27:aa:bb:01", "08:00:27:aa:bb:02")
	kept := p.PlanComputed(providers.PlanRequest{Type: "vm", Addr: "vm.a", Prior: prior, Planned: val("", 2), Cost: providers.Restart})
	if !macsOf(kept).RawEquals(macsOf(prior)) {
		t.Errorf("over a restart: %#v, want %#v", macsOf(kept), macsOf(prior))
	}
	for name, req := range map[string]providers.PlanRequest{
		"a new clone":        {Prior: cty.NullVal(prior.Type()), Planned: val("", 2), Cost: providers.Replace},
		"an adapter more":    {Prior: prior, Planned: val("", 3), Cost: providers.Restart},
		"a replaced machine": {Prior: prior, Planned: val("", 2), Cost: providers.Replace},
	} {
		req.Type, req.Addr = "vm", "vm.a"
		if got := macsOf(p.PlanComputed(req)); got.IsKnown() {
			t.Errorf("%s: mac_addresses %#v, want unknown", name, got)
		}
	}
}
