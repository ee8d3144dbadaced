package planner

import (
	"context"
	"fmt"
	"time"

	"github.com/labform/labform/checks"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

// CheckEnv is what the lab's checks run against: the evaluated
// configuration (a plan's Desired, or Evaluate's), the objects as the
// state records them, and their providers' Execer for exec probes.
func (p *Planner) CheckEnv(ctx context.Context, desired *config.Desired) (checks.Env, error) {
	if desired == nil {
		return checks.Env{}, fmt.Errorf("the configuration was not evaluated")
	}
	recs, err := p.Store.Resources()
	if err != nil {
		return checks.Env{}, fmt.Errorf("reading the state: %w", err)
	}
	current := func(a addr.Instance) (cty.Value, bool) {
		rec, ok := recs[a.String()]
		if !ok {
			return cty.NilVal, false
		}
		v, _, err := DecodeRecord(p.Registry, rec.Type, rec.Provider, rec.Value)
		return v, err == nil
	}
	exec := func(ctx context.Context, address string, argv []string, timeout time.Duration) ([]byte, int, error) {
		rec, ok := recs[address]
		if !ok {
			return nil, -1, fmt.Errorf("%s is not in the state: it was never created (run apply)", address)
		}
		ex, req, err := p.execer(ctx, rec)
		if err != nil {
			return nil, -1, err
		}
		return providers.ExecOutput(ctx, ex, req, argv, timeout)
	}
	probers := func(node string) providers.NetnsProber {
		rec, ok := recs[node]
		if !ok {
			return nil
		}
		prov, diags := p.provider(ctx, rec.Provider)
		if diags.HasErrors() {
			return nil
		}
		np, _ := prov.(providers.NetnsProber)
		return np
	}
	return checks.Env{Desired: desired, Current: current, Exec: exec, Probers: probers}, nil
}

// execer returns the configured provider of a node's record as an
// Execer, with the request that names the node.
func (p *Planner) execer(ctx context.Context, rec *state.Record) (providers.Execer, providers.DescribeRequest, error) {
	req := providers.DescribeRequest{Lab: p.LabInfo(rec.Provider), Type: rec.Type, Addr: rec.Addr, ID: rec.ID, Private: rec.Private}
	prov, diags := p.provider(ctx, rec.Provider)
	if diags.HasErrors() {
		return nil, req, fmt.Errorf("%s", diags[0].Detail)
	}
	ex, ok := prov.(providers.Execer)
	if !ok {
		return nil, req, fmt.Errorf("%s: the %s provider cannot run commands in its %ss", rec.Addr, rec.Provider, rec.Type)
	}
	if v, _, err := DecodeRecord(p.Registry, rec.Type, rec.Provider, rec.Value); err == nil {
		req.Value = v
	}
	return ex, req, nil
}
