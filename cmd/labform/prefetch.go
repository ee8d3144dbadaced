package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// prefetch lets the providers that can fetch what the lab needs before
// apply (container images) do so now, with progress.
func (a *app) prefetch(ctx context.Context, lab *config.Lab, dir string) error {
	in := config.NewInputs()
	in.Unknowns = true
	d, diags := config.Evaluate(lab, in, nil)
	if diags.HasErrors() {
		return nil // validate and plan say what is wrong
	}
	byProvider := map[string]*providers.PrefetchRequest{}
	for _, ia := range d.Order {
		inst := d.Instances[ia]
		name := inst.Resource.Provider
		p, ok := a.reg.Provider(name)
		if !ok {
			continue
		}
		if _, ok := p.(providers.Prefetcher); !ok {
			continue
		}
		r := byProvider[name]
		if r == nil {
			r = &providers.PrefetchRequest{Values: map[string]cty.Value{}, Types: map[string]string{}, Out: a.io.out, Terminal: isTerminal(a.io.out)}
			byProvider[name] = r
		}
		r.Values[ia.String()], r.Types[ia.String()] = inst.Value, ia.Type
	}
	for _, name := range a.reg.Names() {
		r := byProvider[name]
		if r == nil {
			continue
		}
		p, _ := a.reg.Provider(name)
		cfg := cty.NullVal(a.reg.ConfigSchema(name).ImpliedType())
		if v, ok := d.Providers[name]; ok && v.IsWhollyKnown() {
			cfg = v
		}
		labInfo := providers.Lab{Dir: dir, WorkDir: filepath.Join(dir, ".labform", name)}
		if err := p.Configure(ctx, providers.ConfigureRequest{Lab: labInfo, Config: cfg}); err != nil {
			return fmt.Errorf("configuring the %s provider: %w", name, err)
		}
		if err := p.(providers.Prefetcher).Prefetch(ctx, *r); err != nil {
			return err
		}
	}
	return nil
}

// prefetchPlanned fetches, with progress, what the plan's creates need
// (the planned digests of container images) before apply starts: apply
// would fetch them anyway, silently.
func (a *app) prefetchPlanned(ctx context.Context, p *planner.Planner, plan *planner.Plan) error {
	byProvider := map[string]*providers.PrefetchRequest{}
	for _, c := range plan.Changes {
		switch c.Action {
		case planner.Create, planner.DeleteThenCreate, planner.CreateThenDelete:
		default:
			continue
		}
		if c.Deposed || c.After == cty.NilVal || c.After.IsNull() {
			continue
		}
		prov, ok := a.reg.Provider(c.Provider)
		if !ok {
			continue
		}
		if _, ok := prov.(providers.Prefetcher); !ok {
			continue
		}
		r := byProvider[c.Provider]
		if r == nil {
			r = &providers.PrefetchRequest{Values: map[string]cty.Value{}, Types: map[string]string{}, Out: a.io.out, Terminal: isTerminal(a.io.out), Quiet: true}
			byProvider[c.Provider] = r
		}
		r.Values[c.Addr.String()], r.Types[c.Addr.String()] = c.After, c.Type
	}
	for _, name := range a.reg.Names() {
		r := byProvider[name]
		if r == nil {
			continue
		}
		prov, diags := p.ConfiguredProvider(ctx, name)
		if diags.HasErrors() {
			return diags
		}
		if err := prov.(providers.Prefetcher).Prefetch(ctx, *r); err != nil {
			return err
		}
	}
	return nil
}
