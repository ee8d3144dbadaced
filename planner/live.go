package planner

import (
	"context"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

// LiveObject is one object of the lab as a refresh finds it now: what
// `labform status`, `exec` and `console` work from.
type LiveObject struct {
	Addr     addr.Instance
	Type     string
	Provider string
	// ID is the object's ID: its host names derive from it.
	ID string
	// Value is the live value (null: the object is gone); Recorded is the
	// value state holds.
	Value, Recorded cty.Value
	Private         []byte
	// Sensitive are the paths of Value that hold sensitive values.
	Sensitive []cty.Path
	// Drifted is set when the live value differs from the recorded one.
	Drifted bool
}

// Live reads every object in state (refreshing it unless refresh is
// false) and evaluates the configuration against what it found. It
// changes nothing, in the lab or in state: it is a plan's first half.
// The desired configuration is nil when it does not evaluate; the
// diagnostics say why, and the objects are still returned.
func (p *Planner) Live(ctx context.Context, refresh bool) ([]LiveObject, *config.Desired, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p.begin(nil)
	if diags = append(diags, p.evalProviders()...); diags.HasErrors() {
		return nil, nil, diags
	}
	priors, _, d := p.loadPriors(ctx)
	if diags = append(diags, d...); diags.HasErrors() {
		return nil, nil, diags
	}
	if refresh {
		if diags = append(diags, p.refresh(ctx, priors)...); diags.HasErrors() {
			return nil, nil, diags
		}
	}
	var out []LiveObject
	for _, a := range sortedPriorAddrs(priors) {
		pr := priors[a]
		if pr.schema == nil || pr.value.IsNull() {
			continue // an interrupted create: nothing to show yet
		}
		sens := parsePaths(pr.rec.Sensitive)
		sens = append(sens, schemaSensitive(pr.schema)...)
		out = append(out, LiveObject{Addr: a, Type: pr.rec.Type, Provider: pr.rec.Provider, ID: p.idOr(pr.id, a),
			Value: pr.current, Recorded: pr.value, Private: pr.private, Sensitive: sens,
			Drifted: !valuesEqual(pr.value, pr.current)})
	}
	desired, d := config.Evaluate(p.Lab, p.Inputs, func(a addr.Instance) (cty.Value, bool) {
		if pr, ok := priors[a]; ok && !pr.current.IsNull() {
			return pr.current, true
		}
		return cty.NilVal, false
	})
	if d.HasErrors() {
		desired = nil
	}
	return out, desired, append(diags, d...)
}

// ConfiguredProvider is the named provider, configured for this lab with
// the lab's provider block: what exec and console call.
func (p *Planner) ConfiguredProvider(ctx context.Context, name string) (providers.Provider, hcl.Diagnostics) {
	if _, d := p.providerConfig(name); d.HasErrors() {
		return nil, d
	}
	return p.provider(ctx, name)
}

// nodeCarrier is providers.Lab's Carrier: it finds the node (as the
// running apply made it, else as state records it) and asks its provider
// to plug or pull the cable at the port, when the provider can.
func (p *Planner) nodeCarrier(ctx context.Context, node string, port int, up bool) error {
	a, err := addr.ParseInstance(node)
	if err != nil || p.Store == nil {
		return nil
	}
	cur := p.cur.Load()
	if cur == nil {
		cur = &call{}
	}
	// Which provider first, without decoding anything: most nodes'
	// providers (containers) have nothing to do here.
	provName, typ := "", a.Type
	if cur.desired != nil {
		if inst := cur.desired.Instances[a]; inst != nil {
			provName = inst.Resource.Provider
		}
	}
	var rec *state.Record
	if provName == "" {
		if rec, _ = p.Store.Get(node); rec != nil {
			provName = rec.Provider
		}
	}
	if prov, ok := p.Registry.Provider(provName); !ok {
		return nil
	} else if _, ok := prov.(providers.CarrierSetter); !ok {
		return nil
	}
	if rec == nil {
		rec, _ = p.Store.Get(node)
	}
	var value cty.Value
	var private []byte
	if v, ok := cur.applied.Load(a); ok {
		value = v.(cty.Value)
	} else if rec != nil {
		if v, _, err := DecodeRecord(p.Registry, rec.Type, rec.Provider, rec.Value); err == nil {
			value = v
		}
	}
	if rec != nil {
		private = rec.Private
	}
	if value == cty.NilVal || value.IsNull() {
		return nil // not running as far as this lab knows: nothing to plug
	}
	prov, diags := p.provider(ctx, provName)
	if diags.HasErrors() {
		return diags
	}
	return prov.(providers.CarrierSetter).SetCarrier(ctx, providers.CarrierRequest{DescribeRequest: providers.DescribeRequest{Lab: p.LabInfo(provName),
		Type: typ, Addr: node, ID: p.objectID(node), Value: value, Private: private}, Port: port, Up: up})
}
