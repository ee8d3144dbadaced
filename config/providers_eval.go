package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config/addr"
	"github.com/zclconf/go-cty/cty"
)

// EvaluateProviders evaluates the variables and the provider blocks alone:
// providers are configured from them before refresh, which runs before
// the rest of the configuration can be evaluated.
func EvaluateProviders(l *Lab, in *Inputs) (map[string]cty.Value, hcl.Diagnostics) {
	d := &Desired{Lab: l, Providers: map[string]cty.Value{}, Instances: map[addr.Instance]*Instance{},
		refs: map[addr.Resource]cty.Value{}, locals: map[string]cty.Value{}}
	vars, diags := l.evalVariables(in)
	if diags.HasErrors() {
		return nil, diags
	}
	d.Vars = vars
	diags = append(diags, d.evalProviders(d.baseVariables())...)
	return d.Providers, diags
}

func (d *Desired) evalProviders(base map[string]cty.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedAttrKeys(d.Lab.Providers) {
		pc := d.Lab.Providers[name]
		ctx := d.contextFor(base, pc.Content.exprs(), nil)
		v, dd := evalContent(pc.Content, d.Lab.Registry.ConfigSchema(name), ctx, nil, &marks{deps: map[addr.Instance]bool{}})
		diags = append(diags, dd...)
		d.Providers[name] = v
	}
	return diags
}
