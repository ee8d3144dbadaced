package planner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/labreg"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

// labID is the lab's identity on the host: recorded in state at the first
// apply, derived from the resolved directory until then. A lab keeps it
// when its directory moves or is reached through a symlink.
func (p *Planner) labID() string {
	p.identify()
	return p.labIDv
}

// identify finds the lab's ID and name once, from the state and the
// host's record of labs: any Planner of the same lab finds the same.
func (p *Planner) identify() {
	p.labOnce.Do(func() {
		meta, err := p.Store.Meta()
		p.labNamev = p.Lab.Name
		if err == nil && meta.LabName != "" && meta.LabName != p.Lab.Name && p.hasObjects() {
			// Renamed since its first apply: its objects live under the
			// recorded name (checkLab refuses all but a destroy).
			p.labNamev = meta.LabName
		}
		if err == nil && meta.LabID != "" {
			p.labIDv = meta.LabID
			return
		}
		// A new state: the lab that runs from this directory under this
		// name, if any (its .labform was deleted), else an ID derived from
		// the directory, unless a lab that was moved away from it still
		// runs under that ID.
		if e, _ := labreg.Get(p.Lab.Name); e != nil && e.Dir == p.Lab.Dir {
			p.labIDv = e.ID
			return
		}
		for n := 0; ; n++ {
			id := providers.LabID(p.Lab.Dir)
			if n > 0 {
				id = providers.LabID(fmt.Sprintf("%s\x00%d", p.Lab.Dir, n))
			}
			if e, _ := labreg.Find(id); e == nil || e.Dir == p.Lab.Dir || !labreg.HasState(e.Dir) {
				p.labIDv = id
				return
			}
		}
	})
}

// objectID returns the ID of the object at a, as the running call knows
// it, else as state records it.
func (p *Planner) objectID(a string) string {
	if c := p.cur.Load(); c != nil {
		if v, ok := c.ids.Load(a); ok {
			return v.(string)
		}
	}
	if rec, err := p.Store.Get(a); err == nil && rec != nil {
		return rec.ID
	}
	return ""
}

// setObjectID tells the running call the ID of the object at a.
func (p *Planner) setObjectID(a, id string) {
	if c := p.cur.Load(); c != nil && id != "" {
		c.ids.Store(a, id)
	}
}

// idOr is id, or the slot-0 ID of a when id is empty (state written
// before IDs were recorded).
func (p *Planner) idOr(id string, a addr.Instance) string {
	if id != "" {
		return id
	}
	return providers.ObjectID(p.labID(), a.String(), 0)
}

// newID is the ID for a new object at a: the first slot's whose ID no
// object may still hold (a record, of any address after a state mv; an
// open journal entry, such as a deposed object's). reuse is an ID the
// object may take although it is held: the old object's of a replace,
// which is deleted first.
func (p *planning) newID(a addr.Instance, reuse string) string {
	for slot := 0; ; slot++ {
		id := providers.ObjectID(p.labID(), a.String(), slot)
		if id == reuse || !p.taken[id] {
			return id
		}
	}
}

// labName is the name the lab's host objects live under: the one
// recorded at its first apply. A lab whose name changed since (lab { name },
// or the directory's name without one) is refused by checkLab, except for
// destroy, which removes the objects under the recorded name.
func (p *Planner) labName() string {
	p.identify()
	return p.labNamev
}

// checkLab refuses a lab whose name another lab on this host holds, a
// copy of a lab's state, and a lab whose name changed under its running
// objects; it explains a lab that was moved. A destroy is only warned:
// it removes what this lab's state holds, whoever holds the name.
func (p *Planner) checkLab(meta state.Meta, mode Mode) hcl.Diagnostics {
	var diags hcl.Diagnostics
	sev := hcl.DiagError
	if mode == DestroyMode {
		sev = hcl.DiagWarning
	}
	id, dir := p.labID(), p.Lab.Dir
	// A shared state (etcd) is every checkout's: the lab's identity is
	// the state's, whichever directory it is worked from, so neither
	// another checkout nor the last one's directory makes this a copy.
	shared := p.Store.Shared()
	if meta.LabID != "" && !shared {
		// Our state's ID recorded for another directory that still has a
		// state (under any name), or our state's last directory still
		// holding one: this state is a copy, and its objects are the
		// other lab's.
		other := ""
		if e2, _ := labreg.Find(meta.LabID); e2 != nil && e2.Dir != dir && labreg.HasState(e2.Dir) {
			other = e2.Dir
		} else if meta.LabDir != "" && meta.LabDir != dir && labreg.HasState(meta.LabDir) {
			other = meta.LabDir
		}
		if other != "" {
			// Refused for destroy too: it would destroy the other lab's objects.
			return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Copy of a lab",
				Detail: fmt.Sprintf("This directory's state is a copy of the state of the lab at %s (lab id %s): applying both would fight over the same objects. Work in %s, or remove %s/.labform to make this one a new lab (and give it another lab { name }).",
					other, meta.LabID, other, dir)})
		}
	}
	if meta.LabName != "" && meta.LabName != p.Lab.Name && p.hasObjects() {
		if mode != DestroyMode {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Lab renamed",
				Detail: fmt.Sprintf("This lab was applied under the name %q (its namespace is %s); its name is now %q, from lab { name } or, without one, its directory's name. Its objects live under the old name: set lab { name = %q } to go on with them, or destroy the lab first (destroy uses the recorded name) and apply it under the new one.",
					meta.LabName, providers.LabNetns(meta.LabName), p.Lab.Name, meta.LabName)}}
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Lab renamed",
			Detail: fmt.Sprintf("This lab was applied under the name %q; it is destroyed under that name.", meta.LabName)})
	}
	name := p.labName()
	e, err := labreg.Get(name)
	if errors.Is(err, fs.ErrPermission) {
		e, err = nil, nil // a user who may not read them may not apply either
	}
	if err != nil {
		return diagErr("Cannot read the host's lab records", err)
	}
	if e != nil && e.ID != id && e.Dir != dir && labreg.HasState(e.Dir) {
		diags = append(diags, &hcl.Diagnostic{Severity: sev, Summary: "Lab name in use",
			Detail: fmt.Sprintf("The lab at %s, named %q, runs on this host (since %s). Two labs of one name would share the namespace %s and the names derived from it. Give this lab another name with lab { name = \"...\" }, or destroy the other one first.",
				e.Dir, name, e.Since.Format("2006-01-02 15:04"), providers.LabNetns(name))})
	}
	if meta.LabDir != "" && meta.LabDir != dir && !shared {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Lab directory moved",
			Detail: fmt.Sprintf("This lab was last applied from %s and is now at %s. Its objects keep their names (lab id %s); the next apply records the new place.",
				meta.LabDir, dir, id)})
	}
	return diags
}

// hasObjects reports whether the state holds objects (or entries of
// actions that may have made some).
func (p *Planner) hasObjects() bool {
	recs, err := p.Store.Resources()
	if err != nil || len(recs) > 0 {
		return true
	}
	in, err := p.Store.Journal()
	return err != nil || len(in) > 0
}

// claimLab records, before the first action, that this lab holds its name
// on this host and, in state, its ID, directory and name. The claim is
// checked again, atomically: a saved plan, or two plans at once, must not
// put two labs under one name.
func (p *Planner) claimLab(mode Mode) error {
	meta, err := p.Store.Meta()
	if err != nil {
		return err
	}
	if err := labreg.Claim(p.labName(), p.labID(), p.Lab.Dir); err != nil {
		var held *labreg.HeldError
		if errors.As(err, &held) && mode == DestroyMode {
			return nil // destroy removes this lab's objects; the name stays the other's
		}
		return err
	}
	if meta.LabID != p.labID() || (meta.LabDir != p.Lab.Dir && !p.Store.Shared()) || meta.LabName != p.labName() {
		return p.Store.SetLab(p.labID(), p.Lab.Dir, p.labName())
	}
	return nil
}

// releaseLab drops the host's record once the lab has nothing left.
func (p *Planner) releaseLab() {
	if !p.hasObjects() {
		labnet.RemoveLabRemains(p.labName())
		labreg.Release(p.labName(), p.labID())
	}
}

// stateLost reports whether this lab's state is new although labform
// applied it on this host before and did not destroy it: .labform was
// deleted under a running lab. (A state emptied by state rm is not new.)
func (p *Planner) stateLost(meta state.Meta, recs int, journal int) bool {
	if recs > 0 || journal > 0 || meta.LabID != "" || meta.Serial > 0 {
		return false
	}
	e, _ := labreg.Get(p.labName())
	return e != nil && e.ID == p.labID()
}

// evalProviders evaluates the provider blocks, so that refresh reads the
// lab with its provider settings (runtime, binary, accel).
func (p *Planner) evalProviders() hcl.Diagnostics {
	p.cfgMu.Lock()
	defer p.cfgMu.Unlock()
	return p.evalProvidersLocked()
}

func (p *Planner) evalProvidersLocked() hcl.Diagnostics {
	cfg, diags := config.EvaluateProviders(p.Lab, p.Inputs)
	if !diags.HasErrors() {
		p.providerCfg = cfg
	}
	return diags
}

// providerConfig is the value of the named provider's block (a provider on
// a remote host takes its base provider's), null without one. The blocks
// are evaluated on first need when no Plan or Live did: the values come
// from the lab's files and inputs, the same for every Planner.
func (p *Planner) providerConfig(name string) (cty.Value, hcl.Diagnostics) {
	p.cfgMu.Lock()
	defer p.cfgMu.Unlock()
	if p.providerCfg == nil {
		if d := p.evalProvidersLocked(); d.HasErrors() {
			return cty.NilVal, d
		}
	}
	if v, ok := p.providerCfg[name]; ok {
		return v, nil
	}
	if v, ok := p.providerCfg[providers.BaseName(name)]; ok {
		return v, nil
	}
	return cty.NullVal(p.Registry.ConfigSchema(name).ImpliedType()), nil
}

// findLost looks for the objects of a lab whose state was lost, at the
// IDs their addresses would have, and adopts those found.
func (p *Planner) findLost(ctx context.Context, d *config.Desired, priors map[addr.Instance]*prior) (int, hcl.Diagnostics) {
	type probe struct {
		a  addr.Instance
		id string
	}
	byProv := map[string][]probe{}
	for _, a := range d.Order {
		if _, ok := priors[a]; ok {
			continue
		}
		inst := d.Instances[a]
		for slot := 0; slot < providers.Slots; slot++ {
			byProv[inst.Resource.Provider] = append(byProv[inst.Resource.Provider], probe{a, providers.ObjectID(p.labID(), a.String(), slot)})
		}
	}
	found := 0
	var diags hcl.Diagnostics
	for _, name := range slices.Sorted(maps.Keys(byProv)) {
		prov, d2 := p.provider(ctx, name)
		if diags = append(diags, d2...); d2.HasErrors() {
			continue
		}
		probes := byProv[name]
		reqs := make([]providers.ReadRequest, len(probes))
		for i, pb := range probes {
			reqs[i] = providers.ReadRequest{Type: pb.a.Type, Addr: pb.a.String(), ID: pb.id, Prior: d.Instances[pb.a].Value}
		}
		resps, errs := p.readMany(ctx, prov, reqs)
		for i, pb := range probes {
			if errs[i] != nil || resps[i].State == cty.NilVal || resps[i].State.IsNull() || priors[pb.a] != nil {
				continue
			}
			schema := d.Instances[pb.a].Resource.Schema
			priors[pb.a] = &prior{rec: &state.Record{Addr: pb.a.String(), Type: pb.a.Type, Provider: name, ID: pb.id},
				schema: schema, value: cty.NullVal(schema.ImpliedType()), current: resps[i].State, private: resps[i].Private,
				id: pb.id, adopted: true, lost: true}
			p.setObjectID(pb.a.String(), pb.id)
			found++
		}
	}
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "The lab's state was lost",
		Detail: fmt.Sprintf("This lab's state is empty, but labform applied it on this host and never destroyed it (its .labform was deleted?). Its objects were looked for where their names say: %d found and adopted into state by the next apply; destroy removes them. Objects no longer in the configuration cannot be found this way.", found)})
	return found, diags
}
