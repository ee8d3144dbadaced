package planner

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// PlanFileVersion is the saved plan's format.
const PlanFileVersion = 1

type planFile struct {
	Version    int                   `json:"labform_plan_version"`
	Mode       Mode                  `json:"mode"`
	Lineage    string                `json:"lineage"`
	Serial     uint64                `json:"serial"`
	Backend    string                `json:"backend,omitempty"`
	ConfigHash string                `json:"config_hash"`
	LabDir     string                `json:"lab_dir"`
	Vars       map[string]typedValue `json:"variables"`
	Changes    []changeSrc           `json:"changes"`
	Moves      []moveSrc             `json:"moves,omitempty"`
	Imports    []changeSrc           `json:"imports,omitempty"`
	Drift      []changeSrc           `json:"drift,omitempty"`
	// The lab's identity and the journal entries found settled (absent
	// from files of labforms before them: not checked, none closed).
	LabID          string   `json:"lab_id,omitempty"`
	LabName        string   `json:"lab_name,omitempty"`
	SettledIntents []uint64 `json:"settled_intents,omitempty"`
}

type typedValue struct {
	Type  json.RawMessage `json:"type"`
	Value json.RawMessage `json:"value"`
}

// changeSrc is a Change as saved: values as msgpack of the schema's type
// (which keeps unknowns).
type changeSrc struct {
	Addr            string     `json:"addr"`
	Provider        string     `json:"provider"`
	PriorProvider   string     `json:"prior_provider,omitempty"`
	Action          Action     `json:"action"`
	Cost            int        `json:"cost,omitempty"`
	Before          []byte     `json:"before"`
	After           []byte     `json:"after"`
	Private         []byte     `json:"private,omitempty"`
	ID              string     `json:"id,omitempty"`
	PriorID         string     `json:"prior_id,omitempty"`
	Deps            []string   `json:"deps,omitempty"`
	PriorDeps       []string   `json:"prior_deps,omitempty"`
	ForcedBy        []forceSrc `json:"forced_by,omitempty"`
	BeforeSensitive []string   `json:"before_sensitive,omitempty"`
	AfterSensitive  []string   `json:"after_sensitive,omitempty"`
	Reason          string     `json:"reason,omitempty"`
	Tainted         bool       `json:"tainted,omitempty"`
	Deposed         uint64     `json:"deposed,omitempty"` // the journal entry of a deposed object
	MovedFrom       string     `json:"moved_from,omitempty"`
	ImportedFrom    string     `json:"imported_from,omitempty"`
}

type moveSrc struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type forceSrc struct {
	Path string `json:"path"`
	Cost int    `json:"cost"`
}

// WritePlanFile saves a plan with the variables it was made with.
func WritePlanFile(path string, p *Plan, labDir string, vars map[string]cty.Value, reg *providers.Registry) error {
	pf := planFile{Version: PlanFileVersion, Mode: p.Mode, Lineage: p.Lineage, Serial: p.Serial, Backend: p.Backend,
		ConfigHash: p.ConfigHash, LabDir: labDir, Vars: map[string]typedValue{},
		LabID: p.LabID, LabName: p.LabName, SettledIntents: p.SettledIntents}
	for name, v := range vars {
		v, _ = v.UnmarkDeep()
		tb, err := ctyjson.MarshalType(v.Type())
		if err != nil {
			return err
		}
		vb, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return fmt.Errorf("variable %s: %w", name, err)
		}
		pf.Vars[name] = typedValue{Type: tb, Value: vb}
	}
	enc := func(cs []*Change) ([]changeSrc, error) {
		var out []changeSrc
		for _, c := range cs {
			s, err := reg.Schema(c.Provider, c.Type)
			if err != nil {
				return nil, err
			}
			before, err := encodeValue(s, nullIfNil(c.Before, s))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Addr, err)
			}
			after, err := encodeValue(s, nullIfNil(c.After, s))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Addr, err)
			}
			cs := changeSrc{Addr: c.Addr.String(), Provider: c.Provider, PriorProvider: c.PriorProvider, Action: c.Action, Cost: int(c.Cost),
				Before: before, After: after, Private: c.Private, ID: c.ID, PriorID: c.PriorID, Deps: addrStrings(c.Deps), PriorDeps: addrStrings(c.PriorDeps),
				BeforeSensitive: pathStrings(c.BeforeSensitive), AfterSensitive: pathStrings(c.AfterSensitive), Reason: c.Reason, Tainted: c.Tainted}
			if c.Deposed {
				cs.Deposed = c.DeposedIntent
			}
			if c.MovedFrom != nil {
				cs.MovedFrom = c.MovedFrom.String()
			}
			cs.ImportedFrom = c.ImportedFrom
			for _, f := range c.ForcedBy {
				cs.ForcedBy = append(cs.ForcedBy, forceSrc{Path: pathString(f.Path), Cost: int(f.Cost)})
			}
			out = append(out, cs)
		}
		return out, nil
	}
	for _, mv := range p.Moves {
		pf.Moves = append(pf.Moves, moveSrc{From: mv.From.String(), To: mv.To.String()})
	}
	var err error
	if pf.Changes, err = enc(p.Changes); err != nil {
		return err
	}
	if pf.Drift, err = enc(p.Drift); err != nil {
		return err
	}
	if pf.Imports, err = enc(p.Imports); err != nil {
		return err
	}
	b, err := json.Marshal(pf)
	if err != nil {
		return err
	}
	// A plan holds the lab's values, sensitive ones included: 0600, also
	// when it replaces an older, looser file.
	return providers.WritePrivateFile(path, b)
}

func nullIfNil(v cty.Value, s *providers.Schema) cty.Value {
	if v == cty.NilVal {
		return cty.NullVal(s.ImpliedType())
	}
	return v
}

// SavedPlan is a plan read back from a file, with what is needed to apply
// it.
type SavedPlan struct {
	Plan   *Plan
	LabDir string
	Inputs *config.Inputs
}

// ReadPlanFile loads a saved plan.
func ReadPlanFile(path string, reg *providers.Registry) (*SavedPlan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pf planFile
	if err := json.Unmarshal(b, &pf); err != nil || pf.Version == 0 {
		return nil, fmt.Errorf("%s is not a labform plan file", path)
	}
	if pf.Version != PlanFileVersion {
		return nil, fmt.Errorf("%s is a plan file of version %d; this labform reads version %d", path, pf.Version, PlanFileVersion)
	}
	in := config.NewInputs()
	for name, tv := range pf.Vars {
		ty, err := ctyjson.UnmarshalType(tv.Type)
		if err != nil {
			return nil, err
		}
		v, err := ctyjson.Unmarshal(tv.Value, ty)
		if err != nil {
			return nil, err
		}
		in.SetValue(name, v)
	}
	dec := func(srcs []changeSrc) ([]*Change, error) {
		var out []*Change
		for _, s := range srcs {
			a, err := addr.ParseInstance(s.Addr)
			if err != nil {
				return nil, err
			}
			schema, err := reg.Schema(s.Provider, a.Type)
			if err != nil {
				return nil, err
			}
			c := &Change{Addr: a, Type: a.Type, Provider: s.Provider, PriorProvider: s.PriorProvider, Action: s.Action, Cost: providers.Cost(s.Cost),
				Private: s.Private, ID: s.ID, PriorID: s.PriorID, Deps: parseAddrs(s.Deps), PriorDeps: parseAddrs(s.PriorDeps),
				BeforeSensitive: parsePaths(s.BeforeSensitive), AfterSensitive: parsePaths(s.AfterSensitive), Reason: s.Reason, Tainted: s.Tainted,
				Deposed: s.Deposed != 0, DeposedIntent: s.Deposed, ImportedFrom: s.ImportedFrom}
			if s.MovedFrom != "" {
				from, err := addr.ParseInstance(s.MovedFrom)
				if err != nil {
					return nil, err
				}
				c.MovedFrom = &from
			}
			if c.Before, err = decodeValue(schema, s.Before); err != nil {
				return nil, err
			}
			if c.After, err = decodeValue(schema, s.After); err != nil {
				return nil, err
			}
			for _, f := range s.ForcedBy {
				ps := parsePaths([]string{f.Path})
				c.ForcedBy = append(c.ForcedBy, PathCost{Path: ps[0], Cost: providers.Cost(f.Cost)})
			}
			out = append(out, c)
		}
		return out, nil
	}
	p := &Plan{Mode: pf.Mode, Lineage: pf.Lineage, Serial: pf.Serial, Backend: pf.Backend, ConfigHash: pf.ConfigHash,
		LabID: pf.LabID, LabName: pf.LabName, SettledIntents: pf.SettledIntents}
	if p.Changes, err = dec(pf.Changes); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p.Drift, err = dec(pf.Drift); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p.Imports, err = dec(pf.Imports); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, mv := range pf.Moves {
		from, err := addr.ParseInstance(mv.From)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		to, err := addr.ParseInstance(mv.To)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		p.Moves = append(p.Moves, Move{From: from, To: to})
	}
	return &SavedPlan{Plan: p, LabDir: pf.LabDir, Inputs: in}, nil
}

// Evaluate evaluates the lab's configuration with its inputs, without
// reading anything: a saved plan's Desired before Apply.
func (p *Planner) Evaluate() (*config.Desired, error) {
	d, diags := config.Evaluate(p.Lab, p.Inputs, nil)
	if diags.HasErrors() {
		return nil, diags
	}
	return d, nil
}
