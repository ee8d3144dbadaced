package render

import (
	"encoding/json"
	"fmt"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// JSONFormatVersion is the version of the JSON plan's shape.
const JSONFormatVersion = "1.2"

type jsonPlan struct {
	FormatVersion   string                `json:"format_version"`
	LabformVersion  string                `json:"labform_version"`
	Mode            string                `json:"mode"`
	ResourceChanges []jsonResourceChange  `json:"resource_changes"`
	ResourceDrift   []jsonResourceChange  `json:"resource_drift,omitempty"`
	OutputChanges   map[string]jsonChange `json:"output_changes,omitempty"`
	Lineage         string                `json:"lineage"`
	Serial          uint64                `json:"serial"`
	Errored         bool                  `json:"errored"`
}

type jsonResourceChange struct {
	Address string `json:"address"`
	// ModuleAddress is the module instance the resource is in, as
	// Terraform writes it.
	ModuleAddress string      `json:"module_address,omitempty"`
	Mode          string      `json:"mode"`
	Type          string      `json:"type"`
	Name          string      `json:"name"`
	Index         interface{} `json:"index,omitempty"`
	ProviderName  string      `json:"provider_name"`
	Change        jsonChange  `json:"change"`
	ActionReason  string      `json:"action_reason,omitempty"`
	// PreviousAddress is where a moved block moved the object from.
	PreviousAddress string `json:"previous_address,omitempty"`
	// Cost is labform's own: what the change costs the running object
	// (in-place, restart, replace).
	Cost string `json:"cost,omitempty"`
	// Deposed names a deposed object's journal entry, as Terraform names
	// its deposed key.
	Deposed string `json:"deposed,omitempty"`
}

type jsonChange struct {
	Actions         []string        `json:"actions"`
	Before          json.RawMessage `json:"before"`
	After           json.RawMessage `json:"after"`
	AfterUnknown    json.RawMessage `json:"after_unknown"`
	BeforeSensitive json.RawMessage `json:"before_sensitive"`
	AfterSensitive  json.RawMessage `json:"after_sensitive"`
	ReplacePaths    [][]interface{} `json:"replace_paths,omitempty"`
	// Importing is Terraform's: the ID an imported object is found by.
	Importing *jsonImporting `json:"importing,omitempty"`
}

type jsonImporting struct {
	ID string `json:"id"`
}

func actions(a planner.Action) []string {
	switch a {
	case planner.DeleteThenCreate:
		return []string{"delete", "create"}
	case planner.CreateThenDelete:
		return []string{"create", "delete"}
	}
	return []string{string(a)}
}

// JSON renders a plan as JSON in the shape of Terraform's JSON plan.
func JSON(p *planner.Plan, version string) ([]byte, error) {
	jp := jsonPlan{FormatVersion: JSONFormatVersion, LabformVersion: version, Mode: string(p.Mode),
		ResourceChanges: []jsonResourceChange{}, Lineage: p.Lineage, Serial: p.Serial, Errored: p.Errored}
	for _, c := range p.Changes {
		jp.ResourceChanges = append(jp.ResourceChanges, resourceChange(c))
	}
	for _, c := range p.Drift {
		jp.ResourceDrift = append(jp.ResourceDrift, resourceChange(c))
	}
	if len(p.Outputs) > 0 {
		jp.OutputChanges = map[string]jsonChange{}
		for _, o := range p.Outputs {
			act := "update"
			switch {
			case same(o.Before, o.After):
				act = "no-op"
			case o.Before.IsNull():
				act = "create"
			case o.After.IsNull():
				act = "delete"
			}
			sens, _ := json.Marshal(o.Sensitive)
			unk, _ := json.Marshal(!o.After.IsWhollyKnown())
			jp.OutputChanges[o.Name] = jsonChange{Actions: []string{act}, Before: valueJSON(o.Before), After: valueJSON(o.After),
				AfterUnknown: unk, BeforeSensitive: sens, AfterSensitive: sens}
		}
	}
	return json.MarshalIndent(jp, "", "  ")
}

func resourceChange(c *planner.Change) jsonResourceChange {
	rc := jsonResourceChange{Address: c.Addr.String(), ModuleAddress: c.Addr.Module, Mode: "managed", Type: c.Addr.Type, Name: c.Addr.Name,
		ProviderName: c.Provider, ActionReason: c.Reason}
	switch c.Addr.Key.Kind {
	case addr.IntKey:
		rc.Index = c.Addr.Key.Int
	case addr.StringKey:
		rc.Index = c.Addr.Key.Str
	}
	if c.Action == planner.Update || c.Action == planner.DeleteThenCreate || c.Action == planner.CreateThenDelete {
		rc.Cost = c.Cost.String()
	}
	if c.Deposed {
		rc.Deposed = fmt.Sprintf("%08d", c.DeposedIntent)
	}
	if c.MovedFrom != nil {
		rc.PreviousAddress = c.MovedFrom.String()
	}
	rc.Change = jsonChange{Actions: actions(c.Action), Before: valueJSON(c.Before), After: valueJSON(c.After),
		AfterUnknown: unknownJSON(c.After), BeforeSensitive: sensitiveJSON(c.BeforeSensitive), AfterSensitive: sensitiveJSON(c.AfterSensitive)}
	if c.ImportedFrom != "" {
		rc.Change.Importing = &jsonImporting{ID: c.ImportedFrom}
	}
	if c.Action == planner.DeleteThenCreate || c.Action == planner.CreateThenDelete {
		for _, pc := range c.ForcedBy {
			if pc.Cost == providers.Replace {
				rc.Change.ReplacePaths = append(rc.Change.ReplacePaths, pathJSON(pc.Path))
			}
		}
	}
	return rc
}

func pathJSON(p cty.Path) []interface{} {
	var out []interface{}
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			out = append(out, s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				out = append(out, s.Key.AsString())
			} else {
				i, _ := s.Key.AsBigFloat().Int64()
				out = append(out, i)
			}
		}
	}
	return out
}

// valueJSON renders the known parts of v; unknown parts are left out (as
// Terraform does) and after_unknown says where they are.
func valueJSON(v cty.Value) json.RawMessage {
	b, _ := json.Marshal(toGo(v))
	return b
}

func toGo(v cty.Value) interface{} {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Bool:
		return v.True()
	case t == cty.Number:
		f := v.AsBigFloat()
		if f.IsInt() {
			i, _ := f.Int(nil)
			return json.Number(i.String())
		}
		return json.Number(f.Text('g', -1))
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		out := []interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			out = append(out, toGo(ev))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := map[string]interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if ev.IsKnown() {
				out[k.AsString()] = toGo(ev)
			}
		}
		return out
	}
	return nil
}

func unknownJSON(v cty.Value) json.RawMessage {
	b, _ := json.Marshal(unknownGo(v))
	return b
}

func unknownGo(v cty.Value) interface{} {
	if v == cty.NilVal {
		return false
	}
	if !v.IsKnown() {
		return true
	}
	if v.IsNull() || v.IsWhollyKnown() {
		t := v.Type()
		if t.IsObjectType() || t.IsMapType() {
			return map[string]interface{}{}
		}
		return false
	}
	t := v.Type()
	switch {
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		var out []interface{}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			out = append(out, unknownGo(ev))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := map[string]interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if u := unknownGo(ev); u != false {
				if m, ok := u.(map[string]interface{}); ok && len(m) == 0 {
					continue
				}
				out[k.AsString()] = u
			}
		}
		return out
	}
	return false
}

// sensitiveJSON marks sensitive attributes like Terraform's
// before_sensitive/after_sensitive: an object with true at each such path.
func sensitiveJSON(ps []cty.Path) json.RawMessage {
	root := map[string]interface{}{}
	for _, p := range ps {
		// Index steps (a map key, a list element) hide what holds them.
		for i, st := range p {
			if _, ok := st.(cty.GetAttrStep); !ok {
				p = p[:i]
				break
			}
		}
		cur := root
		for i, s := range p {
			ga, ok := s.(cty.GetAttrStep)
			if !ok {
				break
			}
			if i == len(p)-1 {
				cur[ga.Name] = true
				break
			}
			next, ok := cur[ga.Name].(map[string]interface{})
			if !ok {
				next = map[string]interface{}{}
				cur[ga.Name] = next
			}
			cur = next
		}
	}
	b, _ := json.Marshal(root)
	return b
}
