package planner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/labreg"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

// labID is the lab's identity on the host: recorded in state at the first
// apply, derived from the resolved directory until then. A lab keeps it
// when its directory moves or is reached through a symlink.
func (p *Planner) labID() string {
	p.labOnce.Do(func() {
		meta, err := p.Store.Meta()
		if err == nil && meta.LabID != "" {
			p.labIDv = meta.LabID
			return
		}
		// A new lab: its ID derives from its directory, unless a lab that
		// was moved away from this directory still runs under that ID.
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
	return p.labIDv
}

// objectID returns the ID recorded for the object at a, as this run
// knows it.
func (p *Planner) objectID(a string) string {
	if v, ok := p.ids.Load(a); ok {
		return v.(string)
	}
	if rec, err := p.Store.Get(a); err == nil && rec != nil {
		return rec.ID
	}
	return ""
}

func (p *Planner) setObjectID(a, id string) {
	if id != "" {
		p.ids.Store(a, id)
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

// newID is the ID for a new object at a: slot 0's, or the first slot
// whose ID no object that still exists holds (create_before_destroy).
func (p *Planner) newID(a addr.Instance, taken ...string) string {
	for slot := 0; ; slot++ {
		id := providers.ObjectID(p.labID(), a.String(), slot)
		free := true
		for _, t := range taken {
			free = free && t != id
		}
		if free {
			return id
		}
	}
}

// checkLab refuses a lab whose name another lab on this host holds, and
// explains a lab that was moved or copied.
func (p *Planner) checkLab(meta state.Meta) hcl.Diagnostics {
	var diags hcl.Diagnostics
	id, dir, name := p.labID(), p.Lab.Dir, p.Lab.Name
	e, err := labreg.Get(name)
	if errors.Is(err, fs.ErrPermission) {
		e, err = nil, nil // a user who may not read them may not apply either
	}
	if err != nil {
		return diagErr("Cannot read the host's lab records", err)
	}
	switch {
	case e != nil && e.ID != id && e.Dir != dir && labreg.HasState(e.Dir):
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Lab name in use",
			Detail: fmt.Sprintf("The lab at %s, named %q, runs on this host (since %s). Two labs of one name would share the namespace %s and the names derived from it. Give this lab another name with lab { name = \"...\" }, or destroy the other one first.",
				e.Dir, name, e.Since.Format("2006-01-02 15:04"), providers.LabNetns(name)),
		}}
	case e != nil && e.ID == id && e.Dir != dir && labreg.HasState(e.Dir) && meta.LabID != "":
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Copy of a running lab",
			Detail: fmt.Sprintf("This directory's state is a copy of the state of the lab at %s, which runs on this host: applying both would fight over the same objects. Work in %s, or remove %s/.labform to make this one a new lab (and give it another lab { name }).",
				e.Dir, e.Dir, dir)}}
	}
	if meta.LabDir != "" && meta.LabDir != dir {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Lab directory moved",
			Detail: fmt.Sprintf("This lab was last applied from %s and is now at %s. Its objects keep their names (lab id %s); the next apply records the new place.",
				meta.LabDir, dir, id)})
	}
	return diags
}

// claimLab records, before the first action, that this lab holds its name
// on this host and, in state, its ID and directory.
func (p *Planner) claimLab() error {
	meta, err := p.Store.Meta()
	if err != nil {
		return err
	}
	if meta.LabID != p.labID() || meta.LabDir != p.Lab.Dir {
		if err := p.Store.SetLab(p.labID(), p.Lab.Dir); err != nil {
			return err
		}
	}
	return labreg.Claim(p.Lab.Name, p.labID(), p.Lab.Dir)
}

// releaseLab drops the host's record once the lab has nothing left.
func (p *Planner) releaseLab() {
	recs, err := p.Store.Resources()
	if err != nil || len(recs) > 0 {
		return
	}
	if in, err := p.Store.Journal(); err == nil && len(in) == 0 {
		labreg.Release(p.Lab.Name, p.labID())
	}
}

// stateLost reports whether this lab's state is empty although labform
// applied it on this host before and did not destroy it: .labform was
// deleted under a running lab.
func (p *Planner) stateLost(recs int, journal int) bool {
	if recs > 0 || journal > 0 {
		return false
	}
	e, _ := labreg.Get(p.Lab.Name)
	return e != nil && e.ID == p.labID()
}

// evalProviders evaluates the provider blocks, so that refresh reads the
// lab with its provider settings (runtime, binary, accel).
func (p *Planner) evalProviders() hcl.Diagnostics {
	cfg, diags := config.EvaluateProviders(p.Lab, p.Inputs)
	if !diags.HasErrors() {
		p.providerCfg = cfg
	}
	return diags
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
	for _, name := range sortedKeys(byProv) {
		prov, d2 := p.provider(ctx, name)
		if diags = append(diags, d2...); d2.HasErrors() {
			continue
		}
		probes := byProv[name]
		reqs := make([]providers.ReadRequest, len(probes))
		for i, pb := range probes {
			reqs[i] = providers.ReadRequest{Type: pb.a.Type, Addr: pb.a.String(), ID: pb.id, Prior: d.Instances[pb.a].Value}
		}
		resps := make([]providers.ReadResponse, len(reqs))
		errs := make([]error, len(reqs))
		if br, ok := prov.(providers.BatchReader); ok {
			resps, errs = br.ReadMany(ctx, reqs)
		} else {
			par.For(len(reqs), func(i int) { resps[i], errs[i] = safeRead(ctx, prov, reqs[i]) })
		}
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
