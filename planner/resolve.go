package planner

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/ctyobj"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// resolveArguments lets each change's provider resolve what its arguments name
// (providers.Resolver): an image reference becomes the digest it names
// now, shown in the plan; a tag that moved turns a no-op or an update into
// a replacement that says why.
func (p *planning) resolveArguments(ctx context.Context, cs []*Change, refresh bool) hcl.Diagnostics {
	errs := make([]error, len(cs))
	par.For(len(cs), func(i int) {
		errs[i] = p.resolveOne(ctx, cs[i], refresh)
	})
	var diags hcl.Diagnostics
	for i, err := range errs {
		if err == nil {
			continue
		}
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot resolve " + cs[i].Addr.String(), Detail: err.Error()}
		if inst := p.desired.Instances[cs[i].Addr]; inst != nil {
			var ae *providers.AttrError
			if errors.As(err, &ae) {
				d.Summary, d.Detail = ae.Summary, fmt.Sprintf("%s: %s", cs[i].Addr, ae.Detail)
				d.Subject = config.RangeOf(inst.Resource, ae.Path).Ptr()
			} else {
				d.Subject = inst.Resource.DeclRange.Ptr()
			}
		}
		diags = append(diags, d)
	}
	return diags
}

func (p *planning) resolveOne(ctx context.Context, c *Change, refresh bool) error {
	switch c.Action {
	case Create, Update, NoOp, DeleteThenCreate, CreateThenDelete:
	default:
		return nil
	}
	if c.Deposed || c.After == cty.NilVal || c.After.IsNull() || !c.After.IsKnown() {
		return nil
	}
	prov, ok := p.Registry.Provider(c.Provider)
	if !ok {
		return nil
	}
	if _, ok := prov.(providers.Resolver); !ok {
		return nil
	}
	prov, d := p.provider(ctx, c.Provider) // configured: it reads its settings
	if d.HasErrors() {
		return d.Errs()[0]
	}
	r := prov.(providers.Resolver)
	schema, err := p.Registry.Schema(c.Provider, c.Type)
	if err != nil {
		return nil
	}
	prior := c.Before
	if c.Action != Update && c.Action != NoOp {
		prior = cty.NullVal(c.After.Type())
	}
	resp, err := r.Resolve(ctx, providers.ResolveRequest{Lab: p.LabInfo(c.Provider), Type: c.Type, Addr: c.Addr.String(),
		Prior: prior, Planned: c.After, Refresh: refresh})
	if err != nil {
		return err
	}
	if c.Action == Update || c.Action == NoOp {
		switch {
		case resp.Cost == providers.Replace:
			c.Action, c.Cost, c.Reason = DeleteThenCreate, providers.Replace, resp.Reason
			c.After = unknownComputed(schema, c.After)
			c.ForcedBy = append(c.ForcedBy, PathCost{Path: resp.Path, Cost: providers.Replace})
			if inst := p.desired.Instances[c.Addr]; inst != nil {
				p.applyCBD(c, inst)
			}
		case resp.Cost == providers.Restart && c.Cost != providers.Restart:
			needsRestart(c, schema, resp.Reason)
			if c.Action == NoOp { // to be stopped anyway: the change is made in place
				c.Action, c.Cost, c.Reason = Update, providers.InPlace, resp.Reason
			}
			c.ForcedBy = append(c.ForcedBy, PathCost{Path: resp.Path, Cost: c.Cost})
		case resp.Cost == providers.InPlace && c.Action == NoOp:
			c.Action, c.Cost, c.Reason = Update, providers.InPlace, resp.Reason
		case resp.Exact && resp.Cost == providers.InPlace && c.Action == Update && c.Cost == providers.Restart:
			// The same process stays: what the restart would change
			// (the pid) keeps its value.
			c.Cost, c.Reason = providers.InPlace, resp.Reason
			m := c.After.AsValueMap()
			for name, a := range schema.Attributes {
				if a.Computed && !a.Optional && !c.Before.IsNull() {
					m[name] = c.Before.GetAttr(name)
				}
			}
			c.After = cty.ObjectVal(m)
			for i := range c.ForcedBy {
				if c.ForcedBy[i].Cost == providers.Restart {
					c.ForcedBy[i].Cost = providers.InPlace
				}
			}
		}
	}
	if resp.Reason != "" && c.Reason == "" && resp.Cost == c.Cost && c.Action == Update {
		c.Reason = resp.Reason // the schema's cost already; the provider says why
	}
	if len(resp.Resolved) > 0 {
		// Of the same type: a large lab's planned values share theirs.
		m := ctyobj.From(c.After)
		for name, v := range resp.Resolved {
			if a := schema.Attributes[name]; a != nil && a.Computed && v.Type().Equals(a.Type) {
				m.Set(name, v)
			}
		}
		c.After = m.Value()
	}
	return nil
}
