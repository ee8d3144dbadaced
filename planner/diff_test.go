package planner

import (
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

func TestDiffInstance_costs(t *testing.T) {
	schema := (&providers.Schema{Block: providers.Block{
		Attributes: map[string]*providers.Attribute{
			"state":  providers.OptionalDefault(cty.StringVal("running"), providers.InPlace, ""),
			"memory": providers.OptionalDefault(cty.NumberIntVal(256), providers.Restart, ""),
			"image":  providers.Optional(cty.String, providers.Replace, ""),
			"pid":    providers.Computed(cty.Number, ""),
			"port":   providers.OptionalComputed(cty.Number, providers.Restart, ""),
		},
		Blocks: map[string]*providers.NestedBlock{
			"rule": {Nesting: providers.NestingList, Cost: providers.InPlace, Block: &providers.Block{Attributes: map[string]*providers.Attribute{
				"dport": providers.Optional(cty.String, providers.InPlace, ""),
			}}},
			"disk": {Nesting: providers.NestingMap, Cost: providers.Restart, Block: &providers.Block{Attributes: map[string]*providers.Attribute{
				"image": providers.Required(cty.String, providers.Replace, ""),
			}}},
		},
	}}).Finalize()
	rules := func(ports ...string) cty.Value {
		et := schema.Blocks["rule"].Block.ImpliedType()
		if len(ports) == 0 {
			return cty.ListValEmpty(et)
		}
		var l []cty.Value
		for _, p := range ports {
			l = append(l, cty.ObjectVal(map[string]cty.Value{"dport": cty.StringVal(p)}))
		}
		return cty.ListVal(l)
	}
	disks := func(images ...string) cty.Value {
		et := schema.Blocks["disk"].Block.ImpliedType()
		if len(images) == 0 {
			return cty.MapValEmpty(et)
		}
		m := map[string]cty.Value{}
		for i, im := range images {
			m[[]string{"hdb", "hdc"}[i]] = cty.ObjectVal(map[string]cty.Value{"image": cty.StringVal(im)})
		}
		return cty.MapVal(m)
	}
	obj := func(state string, memory int64, image string, pid cty.Value, port cty.Value, r, d cty.Value) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"state": cty.StringVal(state), "memory": cty.NumberIntVal(memory),
			"image": cty.StringVal(image), "pid": pid, "port": port, "rule": r, "disk": d})
	}
	unkN := cty.UnknownVal(cty.Number)
	prior := obj("running", 256, "a", cty.NumberIntVal(42), cty.NumberIntVal(5000), rules("22"), disks("x"))
	cases := map[string]struct {
		desired  cty.Value
		lc       config.Lifecycle
		want     providers.Cost
		pidKnown bool
	}{
		"nothing":             {obj("running", 256, "a", unkN, unkN, rules("22"), disks("x")), config.Lifecycle{}, providers.CostNone, true},
		"state in place":      {obj("paused", 256, "a", unkN, unkN, rules("22"), disks("x")), config.Lifecycle{}, providers.InPlace, true},
		"memory restart":      {obj("running", 512, "a", unkN, unkN, rules("22"), disks("x")), config.Lifecycle{}, providers.Restart, false},
		"image replace":       {obj("running", 256, "b", unkN, unkN, rules("22"), disks("x")), config.Lifecycle{}, providers.Replace, false},
		"worst cost wins":     {obj("paused", 512, "b", unkN, unkN, rules("22"), disks("x")), config.Lifecycle{}, providers.Replace, false},
		"rule changed":        {obj("running", 256, "a", unkN, unkN, rules("80"), disks("x")), config.Lifecycle{}, providers.InPlace, true},
		"rule added":          {obj("running", 256, "a", unkN, unkN, rules("22", "80"), disks("x")), config.Lifecycle{}, providers.InPlace, true},
		"disk added":          {obj("running", 256, "a", unkN, unkN, rules("22"), disks("x", "y")), config.Lifecycle{}, providers.Restart, false},
		"disk image replaced": {obj("running", 256, "a", unkN, unkN, rules("22"), disks("z")), config.Lifecycle{}, providers.Replace, false},
		"user sets port":      {obj("running", 256, "a", unkN, cty.NumberIntVal(5001), rules("22"), disks("x")), config.Lifecycle{}, providers.Restart, false},
		"ignore_changes":      {obj("running", 512, "b", unkN, unkN, rules("22"), disks("x")), config.Lifecycle{IgnoreChanges: []string{"memory", "image"}}, providers.CostNone, true},
		"ignore all":          {obj("paused", 512, "b", unkN, unkN, rules(), disks()), config.Lifecycle{IgnoreAll: true}, providers.CostNone, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := diffInstance(schema, tc.lc, prior, tc.desired)
			if res.cost != tc.want {
				t.Fatalf("cost %s, want %s (changes %v)", res.cost, tc.want, res.changes)
			}
			pid := res.after.GetAttr("pid")
			if pid.IsKnown() != tc.pidKnown {
				t.Fatalf("pid known = %v, want %v: a computed attribute keeps its value unless the object restarts or is replaced", pid.IsKnown(), tc.pidKnown)
			}
			if tc.want == providers.CostNone && !valuesEqual(res.after, prior) {
				t.Fatalf("no change, but the planned value differs from prior:\n%#v", res.after)
			}
		})
	}
}
