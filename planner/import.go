package planner

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/labreg"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

// ImportSpec adopts the object ID names at To (`labform import ADDR ID`).
type ImportSpec struct {
	To addr.Instance
	ID string
}

// importObjects adopts the objects of the import blocks and of specs
// whose address the state does not hold yet: the provider finds each one,
// and it becomes a prior like any recorded object, so the plan compares it
// with the configuration. The returned changes are the records apply
// writes first.
func (p *planning) importObjects(ctx context.Context, priors map[addr.Instance]*prior, specs []ImportSpec) ([]*Change, hcl.Diagnostics) {
	desired := p.desired
	type one struct {
		spec ImportSpec
		rng  *hcl.Range
	}
	var all []one
	for _, im := range p.Lab.Imports {
		all = append(all, one{ImportSpec{To: im.To, ID: im.ID}, im.DeclRange.Ptr()})
	}
	for _, s := range specs {
		all = append(all, one{spec: s})
	}
	var out []*Change
	var diags hcl.Diagnostics
	fail := func(o one, summary, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: o.rng})
	}
	for _, o := range all {
		to := o.spec.To
		if pr, ok := priors[to]; ok && !pr.current.IsNull() {
			if o.rng == nil {
				fail(o, "Resource already managed", fmt.Sprintf("%s is in the state already: labform manages it. To adopt another object there, forget this one first (labform state rm %s).", to, to))
			}
			continue // an import block whose object was adopted by an earlier apply
		}
		inst := desired.Instances[to]
		if inst == nil {
			fail(o, "Import to an instance the configuration does not have",
				fmt.Sprintf("The configuration has no %s: declare it (with the count or for_each key) before importing into it.", to))
			continue
		}
		prov, d := p.provider(ctx, inst.Resource.Provider)
		if diags = append(diags, d...); d.HasErrors() {
			continue
		}
		imp, ok := prov.(providers.Importer)
		if !ok {
			fail(o, "Import not supported", fmt.Sprintf("The %s provider cannot adopt objects made outside labform.", inst.Resource.Provider))
			continue
		}
		if inst.UnknownArgs {
			fail(o, "Import needs a known configuration",
				fmt.Sprintf("%s refers to values known only after apply; apply what it refers to first, then import.", to))
			continue
		}
		id := p.newID(to, "")
		p.taken[id] = true
		resp, err := safeImport(ctx, imp, providers.ImportRequest{Type: to.Type, Addr: to.String(), ID: id, ImportID: o.spec.ID, Planned: inst.Value})
		if err != nil {
			fail(o, "Cannot import "+to.String(), fmt.Sprintf("Importing %q: %s", o.spec.ID, err))
			continue
		}
		if resp.State == cty.NilVal || resp.State.IsNull() || !resp.State.IsWhollyKnown() {
			fail(o, "Cannot import "+to.String(), fmt.Sprintf("The %s provider found no object %q.", inst.Resource.Provider, o.spec.ID))
			continue
		}
		schema := inst.Resource.Schema
		priors[to] = &prior{rec: &state.Record{Addr: to.String(), Type: to.Type, Provider: inst.Resource.Provider, ID: id},
			schema: schema, value: cty.NullVal(schema.ImpliedType()), current: resp.State, private: resp.Private, id: id, adopted: true}
		p.setObjectID(to.String(), id)
		out = append(out, &Change{Addr: to, Type: to.Type, Provider: inst.Resource.Provider, Action: Read, ID: id, PriorID: id,
			Before: cty.NullVal(schema.ImpliedType()), After: resp.State, Private: resp.Private, ImportedFrom: o.spec.ID,
			AfterSensitive: schemaSensitive(schema)})
	}
	return out, diags
}

func safeImport(ctx context.Context, imp providers.Importer, req providers.ImportRequest) (resp providers.ImportResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the provider crashed: %v (a bug in labform)", r)
		}
	}()
	return imp.Import(ctx, req)
}

// markImports tells each change of an imported object what it came from.
func markImports(cs []*Change, imports []*Change) {
	from := map[addr.Instance]string{}
	for _, c := range imports {
		from[c.Addr] = c.ImportedFrom
	}
	for _, c := range cs {
		if f, ok := from[c.Addr]; ok && !c.Deposed {
			c.ImportedFrom = f
		}
	}
}

// writeImports records the imported objects, before any other action;
// a provider that marks the objects it owns (an Adopter) marks them first.
func (p *Planner) writeImports(ctx context.Context, imports []*Change) hcl.Diagnostics {
	if len(imports) == 0 {
		return nil
	}
	recs := make([]*state.Record, 0, len(imports))
	for _, c := range imports {
		schema, err := p.Registry.Schema(c.Provider, c.Type)
		if err != nil {
			return diagErr("Cannot record the imported objects", err)
		}
		if rec, _ := p.Store.Get(c.Addr.String()); rec != nil {
			return diagErr("Cannot record the imported objects", fmt.Errorf("%s is in the state already", c.Addr))
		}
		prov, d := p.provider(ctx, c.Provider)
		if d.HasErrors() {
			return d
		}
		if ad, ok := prov.(providers.Adopter); ok {
			if _, err := ad.Adopt(ctx, providers.ApplyRequest{Type: c.Type, Addr: c.Addr.String(), ID: c.ID, Planned: c.After, Private: c.Private}); err != nil {
				return diagErr("Cannot adopt "+c.Addr.String(), err)
			}
		}
		rec, err := p.record(c, schema, c.After, c.Private, nil)
		if err != nil {
			return diagErr("Cannot record the imported objects", fmt.Errorf("%s: %w", c.Addr, err))
		}
		recs = append(recs, rec)
	}
	if err := p.Store.Put(recs...); err != nil {
		return diagErr("Cannot record the imported objects", err)
	}
	return nil
}

// ApplyImports records only the plan's imported objects (`labform
// import`): nothing on the host changes.
func (p *Planner) ApplyImports(ctx context.Context, plan *Plan) hcl.Diagnostics {
	if plan.Errored {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Plan has errors", Detail: "A plan with errors cannot be applied."}}
	}
	if len(plan.Imports) == 0 {
		return nil
	}
	if err := p.claimLab(plan.Mode); err != nil {
		var held *labreg.HeldError
		if errors.As(err, &held) {
			return diagErr("Lab name in use", err)
		}
		return diagErr("Cannot record the lab on this host", err)
	}
	defer p.releaseLab()
	return p.writeImports(ctx, plan.Imports)
}
