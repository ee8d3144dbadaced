package planner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

// Planner ties a lab's configuration, its state and the providers.
type Planner struct {
	Registry *providers.Registry
	Store    state.Backend
	Lab      *config.Lab
	Inputs   *config.Inputs
	Hook     Hook
	// Parallelism bounds concurrent provider calls (refresh and apply).
	Parallelism int

	// What a Planner keeps between its calls is what any Planner of the
	// same configuration and state would find the same: the configured
	// providers, the provider blocks' values and the lab's identity. What
	// one call learns as it runs (call) starts anew with every Plan, Live
	// and Apply: Apply takes all it needs from the plan it is given.
	configured sync.Map // provider name -> *configureOnce
	// providerCfg holds the provider blocks' values, evaluated before
	// refresh so that refresh runs with the lab's provider settings.
	cfgMu       sync.Mutex
	providerCfg map[string]cty.Value
	labOnce     sync.Once
	labIDv      string
	labNamev    string
	// cur is the running call's: what the providers' callbacks
	// (providers.Lab's IDOf and Carrier) read.
	cur atomic.Pointer[call]
}

// call is what one Plan, Live or Apply learns as it runs, beyond what
// state records: the IDs of objects it found, moved, imported or created,
// and (apply) the values it applied. Every call begins a new one.
type call struct {
	ids     sync.Map // address -> the ID of the object now there
	applied sync.Map // addr.Instance -> cty.Value: results of this apply
	// desired is the configuration an apply works from (nil otherwise).
	desired *config.Desired
}

// begin starts a call: nothing an earlier call learned is seen.
func (p *Planner) begin(desired *config.Desired) *call {
	c := &call{desired: desired}
	p.cur.Store(c)
	return c
}

// PlanOptions select what a plan does.
type PlanOptions struct {
	Mode     Mode
	Refresh  bool
	Targets  []addr.Target
	Excludes []addr.Target
	Replace  []addr.Instance
	// Imports adopt objects made outside labform (`labform import`).
	Imports []ImportSpec
}

// prior is an object known to exist (or to have existed): from state, or
// adopted from an open create intent.
type prior struct {
	rec     *state.Record
	schema  *providers.Schema
	value   cty.Value // as stored
	current cty.Value // after refresh (null: gone)
	private []byte
	id      string   // the object's ID (empty in state written before IDs)
	intents []uint64 // open intents that this object settles
	adopted bool     // found through an open create intent
	lost    bool     // found running while the lab's state was empty
	// deleting: a delete of it was journaled and not settled; it is
	// finished (deletes are idempotent) whatever refresh finds.
	deleting bool
	// leftover is the planned value of a create that was interrupted
	// before the object existed (NilVal otherwise).
	leftover cty.Value
	restart  string // why refresh says only a restart repairs it
}

// Plan refreshes (unless told not to), evaluates the configuration and
// computes the changes.
func (p *Planner) Plan(ctx context.Context, opts PlanOptions) (*Plan, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	meta, err := p.Store.Meta()
	if err != nil {
		return nil, diagErr("Cannot read state", err)
	}
	p.begin(nil)
	if diags = append(diags, p.checkLab(meta, opts.Mode)...); diags.HasErrors() {
		return nil, diags
	}
	if diags = append(diags, p.evalProviders()...); diags.HasErrors() {
		return nil, diags
	}
	priors, found, d := p.loadPriors(ctx)
	if diags = append(diags, d...); diags.HasErrors() {
		return nil, diags
	}
	moves, d := p.applyMoves(priors)
	if diags = append(diags, d...); diags.HasErrors() {
		return nil, diags
	}
	if opts.Refresh {
		diags = append(diags, p.refresh(ctx, priors, opts.Excludes...)...)
		if diags.HasErrors() {
			return nil, diags
		}
		// What refresh read still names the addresses as recorded.
		renameCurrent(priors, moves)
	}
	plan := &Plan{Mode: opts.Mode, Lineage: meta.Lineage, Serial: meta.Serial, Backend: p.Store.Describe(), ConfigHash: ConfigHash(p.Lab), Moves: moves,
		LabID: p.labID(), LabName: p.labName(), SettledIntents: found.settled}
	addrs := sortedPriorAddrs(priors)
	drifted := make([]bool, len(addrs))
	par.For(len(addrs), func(i int) {
		pr := priors[addrs[i]]
		drifted[i] = pr.adopted || !valuesEqual(pr.value, pr.current)
	})
	for i, a := range addrs {
		if pr := priors[a]; drifted[i] {
			plan.Drift = append(plan.Drift, driftChange(a, pr))
		}
	}

	evaluate := func() (*config.Desired, hcl.Diagnostics) {
		return config.Evaluate(p.Lab, p.Inputs, func(a addr.Instance) (cty.Value, bool) {
			if pr, ok := priors[a]; ok && !pr.current.IsNull() {
				return pr.current, true
			}
			return cty.NilVal, false
		})
	}
	desired, d := evaluate()
	diags = append(diags, d...)
	if diags = append(diags, p.checkMovedAway(moves, desired)...); diags.HasErrors() {
		return nil, diags
	}
	if opts.Refresh && found.lost {
		// .labform was deleted under a running lab: look for its objects
		// where their IDs say they are, and adopt what is found.
		found, d := p.findLost(ctx, desired, priors)
		if diags = append(diags, d...); diags.HasErrors() {
			return nil, diags
		}
		if found > 0 {
			for _, a := range sortedPriorAddrs(priors) {
				if pr := priors[a]; pr.adopted && pr.lost {
					plan.Drift = append(plan.Drift, driftChange(a, pr))
				}
			}
			addrs = sortedPriorAddrs(priors)
			desired, d = evaluate()
			if diags = append(diags, d...); diags.HasErrors() {
				return nil, diags
			}
		}
	}
	plan.Desired = desired
	pl := &planning{Planner: p, desired: desired, taken: found.taken}
	// The providers' checks guard what would be created; they must not
	// stand in the way of destroying a lab.
	if opts.Mode != DestroyMode {
		// A node keeps the address recorded in state (even when refresh
		// found it gone or changed by hand), else the one an adopted
		// object has.
		diags = append(diags, p.assignManagement(desired, func(a addr.Instance) cty.Value {
			pr, ok := priors[a]
			switch {
			case !ok:
				return cty.NilVal
			case pr.value != cty.NilVal && !pr.value.IsNull():
				return pr.value
			}
			return pr.current
		}, leavingValues(desired, priors))...)
		if diags.HasErrors() {
			return nil, diags
		}
		settleManagement(desired, func(a addr.Instance) (cty.Value, bool) {
			if pr, ok := priors[a]; ok {
				return pr.current, true
			}
			return cty.NilVal, false
		}, func(a addr.Instance, v cty.Value) { priors[a].current = v })
		recordedNet := cty.NilVal
		if pr, ok := priors[managementAddr]; ok {
			recordedNet = pr.value
		}
		relengthManagement(desired, recordedNet, func(a addr.Instance) (cty.Value, bool) {
			if pr, ok := priors[a]; ok {
				return pr.current, true
			}
			return cty.NilVal, false
		}, func(a addr.Instance, v cty.Value) { priors[a].current = v })
		diags = append(diags, p.validate(desired)...)
		if diags.HasErrors() {
			return nil, diags
		}
	}

	if opts.Mode == NormalMode {
		imports, d := pl.importObjects(ctx, priors, opts.Imports)
		if diags = append(diags, d...); diags.HasErrors() {
			return nil, diags
		}
		plan.Imports = imports
	}
	replace := map[addr.Instance]bool{}
	for _, a := range opts.Replace {
		replace[a] = true
	}
	switch opts.Mode {
	case RefreshOnlyMode:
		plan.Changes = append(plan.Changes, plan.Drift...)
	case DestroyMode:
		for _, a := range addrs {
			if pr := priors[a]; pr.remains() {
				plan.Changes = append(plan.Changes, p.deleteChange(a, pr, "destroy requested"))
			}
		}
	default:
		changes := make([]*Change, len(desired.Order))
		par.For(len(changes), func(i int) {
			a := desired.Order[i]
			changes[i] = pl.changeFor(desired.Instances[a], priors[a], replace[a])
		})
		plan.Changes = append(plan.Changes, changes...)
		for _, a := range addrs {
			if pr := priors[a]; desired.Instances[a] == nil && pr.remains() {
				plan.Changes = append(plan.Changes, p.deleteChange(a, priors[a], "no longer in the configuration"))
			}
		}
	}
	// Objects deposed by an interrupted create_before_destroy are
	// destroyed, whatever the mode (except refresh-only).
	if opts.Mode != RefreshOnlyMode {
		plan.Changes = append(plan.Changes, found.deposed...)
	}
	p.forgetRemoved(plan.Changes)
	markMoves(plan.Changes, moves)
	markImports(plan.Changes, plan.Imports)
	sortChanges(plan.Changes)
	if opts.Mode == NormalMode {
		if diags = append(diags, pl.resolveArguments(ctx, plan.Changes, opts.Refresh)...); diags.HasErrors() {
			return nil, diags
		}
	}
	keepManagementValues(desired, plan.Changes)
	p.planComputed(plan.Changes)
	reapplyDependants(plan.Changes)
	if len(opts.Targets) > 0 || len(opts.Excludes) > 0 {
		plan.Changes = filterTargets(plan.Changes, opts.Targets, opts.Excludes)
	}
	diags = append(diags, p.checkPreventDestroy(plan)...)
	if opts.Mode != DestroyMode {
		// Outputs as they will be after the apply: a restarted node's pid
		// is "(known after apply)", not the one it has now.
		planned := plannedValues(plan.Changes)
		diags = append(diags, p.planOutputs(plan, desired, func(a addr.Instance) (cty.Value, bool) {
			if v, ok := planned[a]; ok {
				return v, true
			}
			if pr, ok := priors[a]; ok && !pr.current.IsNull() {
				return pr.current, true
			}
			return cty.NilVal, false
		})...)
	}
	if g, _ := buildApplyGraph(plan.Changes); g != nil {
		if cyc := g.Cycles(); len(cyc) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cycle in the apply order",
				Detail: fmt.Sprintf("These actions wait for each other: %s. Split the change into two applies, or use create_before_destroy.", FormatCycles(cyc))})
		}
	}
	plan.Errored = diags.HasErrors()
	return plan, diags
}

// driftChange is what refresh found of one object, with the sensitive
// paths its record and schema name hidden on both sides.
func driftChange(a addr.Instance, pr *prior) *Change {
	sens := parsePaths(pr.rec.Sensitive)
	if pr.schema != nil {
		sens = append(sens, schemaSensitive(pr.schema)...)
	}
	return &Change{Addr: a, Type: pr.rec.Type, Provider: pr.rec.Provider, Action: Read,
		ID: pr.id, PriorID: pr.id, Before: pr.value, After: pr.current, Private: pr.private, Reason: driftReason(pr),
		PriorDeps: parseAddrs(pr.rec.Deps), BeforeSensitive: sens, AfterSensitive: sens}
}

// remains reports whether something of the object may be on the host: it
// runs, or its delete or create was cut short, or it was deleted outside
// labform (a killed VM leaves its files and run directory). A destroy, or
// a configuration without it, deletes it: deletes are idempotent.
func (pr *prior) remains() bool {
	return !pr.current.IsNull() || pr.deleting || pr.leftover != cty.NilVal || (pr.schema != nil && !pr.value.IsNull())
}

func driftReason(pr *prior) string {
	switch {
	case pr.lost:
		return "it ran while the lab's state was lost"
	case pr.adopted:
		return "its create was interrupted"
	case pr.current.IsNull():
		return "deleted outside labform"
	}
	return "changed outside labform"
}

// planning is one Plan's working set besides the priors: the
// configuration it evaluated, and the IDs that objects may still hold.
type planning struct {
	*Planner
	desired *config.Desired
	taken   map[string]bool
}

// recovered is what loadPriors finds in the state's journal besides the
// priors. A Plan keeps it for itself, except settled, which its plan carries
// to Apply.
type recovered struct {
	// taken holds every ID an object may still hold (records, open
	// journal entries): a new object gets none of them.
	taken map[string]bool
	// deposed are the deletes of objects deposed by an interrupted
	// create_before_destroy.
	deposed []*Change
	// settled are journal entries found settled already.
	settled []uint64
	// lost: the state is empty, but this lab runs on this host.
	lost bool
}

// loadPriors decodes state and recovers open intents: an object whose
// create was in flight when labform stopped is looked for, and adopted if
// it exists.
func (p *Planner) loadPriors(ctx context.Context) (map[addr.Instance]*prior, *recovered, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	recs, err := p.Store.Resources()
	if err != nil {
		return nil, nil, diagErr("Cannot read state", err)
	}
	priors := make(map[addr.Instance]*prior, len(recs))
	list := make([]*state.Record, 0, len(recs))
	for _, rec := range recs {
		list = append(list, rec)
	}
	// Decoding is independent per record: spread it over the cores.
	decoded := make([]*prior, len(list))
	errs := make([]hcl.Diagnostics, len(list))
	par.For(len(list), func(i int) {
		rec := list[i]
		schema, err := p.Registry.Schema(rec.Provider, rec.Type)
		if err != nil {
			errs[i] = diagErr("State refers to an unknown provider", fmt.Errorf("%s: %w", rec.Addr, err))
			return
		}
		v, err := decodeValue(schema, rec.Value)
		if err != nil {
			errs[i] = diagErr("Corrupt state record", fmt.Errorf("%s: %w", rec.Addr, err))
			return
		}
		decoded[i] = &prior{rec: rec, schema: schema, value: v, current: v, private: rec.Private, id: rec.ID}
	})
	for i, rec := range list {
		diags = append(diags, errs[i]...)
		if decoded[i] == nil {
			continue
		}
		a, err := addr.ParseInstance(rec.Addr)
		if err != nil {
			diags = append(diags, diagErr("Invalid address in state", err)...)
			continue
		}
		priors[a] = decoded[i]
		p.setObjectID(rec.Addr, rec.ID)
	}
	intents, err := p.Store.Journal()
	if err != nil {
		return nil, nil, diagErr("Cannot read the state's journal", err)
	}
	meta, _ := p.Store.Meta()
	if meta.LabID == "" {
		// A state written by a labform before object IDs: its objects
		// have names this one does not derive, and would be built again
		// beside the old ones.
		for _, rec := range recs {
			if rec.ID == "" {
				return nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "State from an older labform",
					Detail: fmt.Sprintf("%s (and maybe more) was recorded by a labform that named host objects after the lab's directory, not by object IDs; this labform would not find them and would build them again beside the old ones. Destroy the lab with the labform that applied it, then apply it with this one.", rec.Addr)}}
			}
		}
	}
	found := &recovered{lost: p.stateLost(meta, len(recs), len(intents)), taken: map[string]bool{}}
	for _, rec := range recs {
		found.taken[rec.ID] = true
	}
	for _, in := range intents {
		found.taken[in.ID] = true
	}
	delete(found.taken, "")
	for _, in := range intents {
		a, err := addr.ParseInstance(in.Addr)
		if err != nil {
			continue
		}
		if pr, ok := priors[a]; ok && in.ID != "" && in.ID == pr.id && in.Action == state.DeleteDeposed {
			// A create_before_destroy stopped before its new object was
			// recorded: the record still holds the old object, which
			// stays. The entry is closed; the create's own entry says
			// what the new object left.
			found.settled = append(found.settled, in.Seq)
			continue
		}
		if pr, ok := priors[a]; ok && in.ID != "" && in.ID != pr.id && in.Action == state.JournalCreate {
			// The new object of such a create: never recorded, it is
			// removed like a deposed one.
			if c, d := p.orphanChange(ctx, in, a); c != nil {
				found.deposed = append(found.deposed, c)
			} else {
				diags = append(diags, d...)
			}
			continue
		}
		if in.Action == state.DeleteDeposed {
			if c, d := p.deposedChange(in, a); c != nil {
				found.deposed = append(found.deposed, c)
			} else {
				diags = append(diags, d...)
			}
			continue
		}
		if pr, ok := priors[a]; ok {
			// The record is there: refresh tells what became of it. A
			// delete that was under way is finished whatever refresh
			// finds: what it had not yet removed would leak otherwise.
			pr.intents = append(pr.intents, in.Seq)
			if in.Action == state.JournalDelete && (in.ID == "" || in.ID == pr.id) {
				pr.deleting = true
			}
			continue
		}
		if in.Action != state.JournalCreate {
			// A delete that finished its work but not its settle: the
			// record is gone already; nothing left to find.
			priors[a] = &prior{intents: []uint64{in.Seq}, current: cty.NullVal(cty.DynamicPseudoType), value: cty.NullVal(cty.DynamicPseudoType),
				rec: &state.Record{Addr: in.Addr, Type: in.Type, Provider: in.Provider}}
			continue
		}
		id := p.idOr(in.ID, a)
		schema, planned, resp, d := p.readCreated(ctx, in, id)
		if diags = append(diags, d...); d.HasErrors() {
			continue
		}
		pr := &prior{intents: []uint64{in.Seq}, schema: schema, private: resp.Private, id: id,
			rec: &state.Record{Addr: in.Addr, Type: in.Type, Provider: in.Provider, ID: id}}
		if resp.State == cty.NilVal || resp.State.IsNull() {
			pr.value, pr.current = cty.NullVal(schema.ImpliedType()), cty.NullVal(schema.ImpliedType())
			// Not there, but its create may have left pieces (a namespace,
			// a bundle): a destroy removes them; a create starts clean.
			pr.leftover = cty.UnknownAsNull(planned)
		} else {
			pr.value, pr.current, pr.adopted = cty.NullVal(schema.ImpliedType()), resp.State, true
			p.setObjectID(in.Addr, id)
		}
		priors[a] = pr
	}
	return priors, found, diags
}

// orphanChange turns the open create intent of an object that was never
// recorded beside the address's recorded one into its delete.
func (p *Planner) orphanChange(ctx context.Context, in *state.Intent, a addr.Instance) (*Change, hcl.Diagnostics) {
	_, planned, resp, d := p.readCreated(ctx, in, in.ID)
	if d.HasErrors() {
		return nil, d
	}
	before := cty.UnknownAsNull(planned)
	reason := "an interrupted create_before_destroy may have left pieces of its new object"
	if resp.State != cty.NilVal && !resp.State.IsNull() {
		before, reason = resp.State, "the new object of an interrupted create_before_destroy, never recorded"
	}
	return &Change{Addr: a, Type: in.Type, Provider: in.Provider, Action: Delete, Deposed: true, DeposedIntent: in.Seq, PriorID: in.ID,
		Before: before, After: cty.NullVal(before.Type()), Private: resp.Private, Reason: reason}, nil
}

// readCreated looks for the object an open create intent was making,
// under the given ID: the schema, the value it was planned with, and what
// the provider finds.
func (p *Planner) readCreated(ctx context.Context, in *state.Intent, id string) (*providers.Schema, cty.Value, providers.ReadResponse, hcl.Diagnostics) {
	var resp providers.ReadResponse
	schema, err := p.Registry.Schema(in.Provider, in.Type)
	if err != nil {
		return nil, cty.NilVal, resp, diagErr("Journal refers to an unknown provider", err)
	}
	planned, err := decodeValue(schema, in.Planned)
	if err != nil {
		return nil, cty.NilVal, resp, diagErr("Corrupt journal entry", fmt.Errorf("%s: %w", in.Addr, err))
	}
	prov, d := p.provider(ctx, in.Provider)
	if d.HasErrors() {
		return nil, cty.NilVal, resp, d
	}
	resp, err = prov.Read(ctx, providers.ReadRequest{Type: in.Type, Addr: in.Addr, ID: id, Prior: planned})
	if err != nil {
		return nil, cty.NilVal, resp, diagErr("Cannot look for an object whose create was interrupted", fmt.Errorf("%s: %w", in.Addr, err))
	}
	return schema, planned, resp, nil
}

// deposedChange turns an open delete-deposed intent into the delete of
// the old object it names.
func (p *Planner) deposedChange(in *state.Intent, a addr.Instance) (*Change, hcl.Diagnostics) {
	schema, err := p.Registry.Schema(in.Provider, in.Type)
	if err != nil {
		return nil, diagErr("Journal refers to an unknown provider", err)
	}
	before, err := decodeValue(schema, in.Planned)
	if err != nil {
		return nil, diagErr("Corrupt journal entry", fmt.Errorf("%s: %w", in.Addr, err))
	}
	return &Change{Addr: a, Type: in.Type, Provider: in.Provider, Action: Delete, Deposed: true, DeposedIntent: in.Seq, PriorID: p.idOr(in.ID, a),
		Before: before, After: cty.NullVal(before.Type()), Private: in.Private,
		Reason: "deposed: left by a create_before_destroy that was interrupted"}, nil
}

// refresh reads every prior object from the lab, in one batch per provider
// where the provider can. Objects excluded (-exclude) are not read: they
// keep their recorded values, so that a host that cannot be reached can
// be left out of a plan.
func (p *Planner) refresh(ctx context.Context, priors map[addr.Instance]*prior, excludes ...addr.Target) hcl.Diagnostics {
	byProv := map[string][]addr.Instance{}
	for _, a := range sortedPriorAddrs(priors) {
		pr := priors[a]
		if pr.adopted || pr.schema == nil || pr.value.IsNull() || matchesAny(excludes, a) {
			continue
		}
		byProv[pr.rec.Provider] = append(byProv[pr.rec.Provider], a)
	}
	var diags hcl.Diagnostics
	var mu sync.Mutex
	fail := func(d ...*hcl.Diagnostic) { mu.Lock(); diags = append(diags, d...); mu.Unlock() }
	rh, _ := p.Hook.(RefreshHook)
	var wg sync.WaitGroup
	for name, addrs := range byProv {
		prov, d := p.provider(ctx, name)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		reqs := make([]providers.ReadRequest, len(addrs))
		for i, a := range addrs {
			pr := priors[a]
			reqs[i] = providers.ReadRequest{Type: pr.rec.Type, Addr: pr.rec.Addr, ID: p.idOr(pr.id, a), Prior: pr.value, Private: pr.private}
		}
		wg.Add(1)
		go func(addrs []addr.Instance) { // each provider's reads beside the others'
			defer wg.Done()
			if rh != nil {
				for _, a := range addrs {
					rh.PreRefresh(a)
				}
			}
			resps, errs := p.readMany(ctx, prov, reqs)
			for i, a := range addrs {
				pr, resp := priors[a], resps[i]
				if rh != nil {
					rh.PostRefresh(a, errs[i] == nil && (resp.State == cty.NilVal || resp.State.IsNull()), errs[i])
				}
				switch {
				case errs[i] != nil:
					fail(diagErr("Refresh failed", fmt.Errorf("%s: %w", pr.rec.Addr, errs[i]))...)
				case resp.State == cty.NilVal || resp.State.IsNull():
					pr.current = cty.NullVal(pr.schema.ImpliedType())
				default:
					pr.current, pr.restart = resp.State, resp.Restart
					if resp.Private != nil {
						pr.private = resp.Private
					}
				}
			}
		}(addrs)
	}
	wg.Wait()
	return diags
}

// readMany reads one provider's objects: with one call where the
// provider batches (one runc list, one dump of the lab namespace), else
// one read each, at most parallelism at once.
func (p *Planner) readMany(ctx context.Context, prov providers.Provider, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	if br, ok := prov.(providers.BatchReader); ok {
		return br.ReadMany(ctx, reqs)
	}
	resps := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	par.Limit(len(reqs), p.parallelism(), func(i int) {
		resps[i], errs[i] = safeRead(ctx, prov, reqs[i])
	})
	return resps, errs
}

func safeRead(ctx context.Context, prov providers.Provider, req providers.ReadRequest) (resp providers.ReadResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the %s provider crashed reading it: %v (a bug in labform)", prov.Name(), r)
		}
	}()
	return prov.Read(ctx, req)
}

func (p *Planner) parallelism() int {
	if p.Parallelism < 1 {
		return 10
	}
	return p.Parallelism
}

// provider returns a configured provider. Configure runs once per
// provider, even when many actions ask at the same moment.
func (p *Planner) provider(ctx context.Context, name string) (providers.Provider, hcl.Diagnostics) {
	prov, ok := p.Registry.Provider(name)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown provider", Detail: fmt.Sprintf("No provider named %q.", name)}}
	}
	v, _ := p.configured.LoadOrStore(name, &configureOnce{})
	c := v.(*configureOnce)
	c.once.Do(func() {
		cfg, d := p.providerConfig(name)
		if d.HasErrors() {
			c.diag = &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot configure the " + name + " provider", Detail: d.Error()}
			return
		}
		if err := prov.Configure(ctx, providers.ConfigureRequest{Lab: p.LabInfo(name), Config: cfg}); err != nil {
			c.diag = &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot configure the " + name + " provider", Detail: err.Error()}
			if pc, ok := p.Lab.Providers[name]; ok {
				c.diag.Subject = pc.DeclRange.Ptr()
			}
		}
	})
	if c.diag != nil {
		return nil, hcl.Diagnostics{c.diag}
	}
	return prov, nil
}

type configureOnce struct {
	once sync.Once
	diag *hcl.Diagnostic
}

// LabInfo is what a provider learns about the lab.
func (p *Planner) LabInfo(provider string) providers.Lab {
	return providers.Lab{Name: p.labName(), Dir: p.Lab.Dir, WorkDir: filepath.Join(p.Lab.Dir, ".labform", provider),
		ID: p.labID(), IDOf: p.objectID, Carrier: p.nodeCarrier}
}

// validate runs the providers' checks of the values and of the host.
func (p *Planner) validate(d *config.Desired) hcl.Diagnostics {
	diags := Validate(p.Registry, d)
	// The host checks, many at once: on a remote host each is a round
	// trip to its agent.
	hostErrs := make([][]*providers.AttrError, len(d.Order))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4*p.parallelism())
	for i, a := range d.Order {
		inst := d.Instances[a]
		prov, _ := p.Registry.Provider(inst.Resource.Provider)
		if hc, ok := prov.(providers.HostChecker); ok {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				hostErrs[i] = hc.CheckHost(a.Type, inst.Value)
			}()
		}
	}
	wg.Wait()
	for i, a := range d.Order {
		inst := d.Instances[a]
		// A node's file blocks: their sources as the plan finds them
		// (which validate does not read), at the block's line.
		if fb := inst.Resource.Schema.Blocks["file"]; fb != nil && fb.Block != nil && fb.Block.Attributes["source"] != nil {
			for _, e := range providers.CheckFiles(inst.Value, p.Lab.Dir) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: e.Summary,
					Detail: fmt.Sprintf("%s: %s", a, e.Detail), Subject: config.RangeOf(inst.Resource, e.Path).Ptr()})
			}
		}
		for _, e := range hostErrs[i] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: e.Summary,
				Detail: fmt.Sprintf("%s: %s", a, e.Detail), Subject: config.RangeOf(inst.Resource, e.Path).Ptr()})
		}
	}
	return diags
}

// Validate runs the providers' own checks on the desired values.
func Validate(reg *providers.Registry, d *config.Desired) hcl.Diagnostics {
	diags := checkManagement(d)
	report := func(a addr.Instance, errs []*providers.AttrError) {
		for _, e := range errs {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: e.Summary,
				Detail: fmt.Sprintf("%s: %s", a, e.Detail), Subject: config.RangeOf(d.Instances[a].Resource, e.Path).Ptr()})
		}
	}
	// The providers' checks of the whole lab (one goroutine per provider
	// and type) run while each instance's checks run on every core
	// (validators are called concurrently, as every provider method may
	// be): the firewall chains' check of a large lab took one core alone
	// after the rest was done. Everything is reported in order.
	var byGroup []map[string][]*providers.AttrError
	labDone := make(chan struct{})
	go func() {
		defer close(labDone)
		type group struct{ provider, typ string }
		groups := map[group]map[string]cty.Value{}
		for _, a := range d.Order {
			inst := d.Instances[a]
			prov, _ := reg.Provider(inst.Resource.Provider)
			if _, ok := prov.(providers.LabValidator); ok {
				g := group{inst.Resource.Provider, a.Type}
				if groups[g] == nil {
					groups[g] = map[string]cty.Value{}
				}
				groups[g][a.String()] = inst.Value
			}
		}
		keys := make([]group, 0, len(groups))
		for g := range groups {
			keys = append(keys, g)
		}
		sort.Slice(keys, func(i, j int) bool {
			return keys[i].provider < keys[j].provider || (keys[i].provider == keys[j].provider && keys[i].typ < keys[j].typ)
		})
		byGroup = make([]map[string][]*providers.AttrError, len(keys))
		var wg sync.WaitGroup
		for i, g := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				prov, _ := reg.Provider(g.provider)
				byGroup[i] = prov.(providers.LabValidator).ValidateLab(g.typ, groups[g])
			}()
		}
		wg.Wait()
	}()
	found := make([][]*providers.AttrError, len(d.Order))
	par.For(len(d.Order), func(i int) {
		inst := d.Instances[d.Order[i]]
		prov, _ := reg.Provider(inst.Resource.Provider)
		if v, ok := prov.(providers.Validator); ok {
			found[i] = v.ValidateResource(d.Order[i].Type, inst.Value)
		}
	})
	for i, a := range d.Order {
		report(a, found[i])
	}
	<-labDone
	for _, found := range byGroup {
		for _, as := range slices.Sorted(maps.Keys(found)) {
			a, _ := addr.ParseInstance(as)
			report(a, found[as])
		}
	}
	return diags
}

func (p *planning) changeFor(inst *config.Instance, pr *prior, forceReplace bool) *Change {
	c := &Change{Addr: inst.Addr, Type: inst.Addr.Type, Provider: inst.Resource.Provider, Deps: inst.Deps,
		AfterSensitive: append(inst.SensitivePaths, schemaSensitive(inst.Resource.Schema)...)}
	if pr != nil && pr.deleting && pr.current.IsNull() && pr.schema != nil {
		// The object's delete was interrupted: finish it, then create.
		c.Before, c.Private, c.PriorID = pr.current, pr.private, p.idOr(pr.id, inst.Addr)
		if c.Before.IsNull() {
			c.Before = pr.value
		}
		c.PriorDeps, c.BeforeSensitive = parseAddrs(pr.rec.Deps), parsePaths(pr.rec.Sensitive)
		c.Action, c.Cost, c.After = DeleteThenCreate, providers.Replace, unknownComputed(inst.Resource.Schema, inst.Value)
		c.Reason = "its delete was interrupted: the delete is finished, then it is created again"
		c.ID = p.newID(inst.Addr, c.PriorID)
		return c
	}
	if pr == nil || pr.current.IsNull() || pr.schema == nil {
		c.Action, c.Before, c.After = Create, cty.NullVal(inst.Value.Type()), inst.Value
		reuse := "" // a gone object's ID: its leftovers are cleaned by the create
		if pr != nil {
			reuse = pr.id
		}
		c.ID = p.newID(inst.Addr, reuse)
		if pr != nil && !pr.value.IsNull() {
			c.Reason = "deleted outside labform"
		}
		return c
	}
	c.Before, c.Private = pr.current, pr.private
	c.PriorID = p.idOr(pr.id, inst.Addr)
	c.ID = c.PriorID
	c.PriorDeps = parseAddrs(pr.rec.Deps)
	c.BeforeSensitive = parsePaths(pr.rec.Sensitive)
	if pr.rec.Provider != inst.Resource.Provider {
		c.Action, c.Cost, c.After = DeleteThenCreate, providers.Replace, inst.Value
		c.PriorProvider = pr.rec.Provider
		c.Reason = fmt.Sprintf("provider changed from %s to %s", pr.rec.Provider, inst.Resource.Provider)
		p.applyCBD(c, inst)
		return c
	}
	res := diffInstance(inst.Resource.Schema, inst.Resource.Lifecycle, pr.current, inst.Value)
	decide(c, inst.Resource.Schema, inst.Value, res, forceReplace, pr.rec.Tainted)
	if c.Action == DeleteThenCreate {
		p.applyCBD(c, inst)
	}
	if pr.restart != "" {
		needsRestart(c, inst.Resource.Schema, pr.restart)
	}
	return c
}

// applyCBD makes a replacement create_before_destroy when the resource
// asks for it; the new object gets an ID the old one does not hold.
func (p *planning) applyCBD(c *Change, inst *config.Instance) {
	c.ID = p.newID(inst.Addr, c.PriorID) // the old object goes first
	if inst.Resource.Lifecycle.CreateBeforeDestroy {
		c.Action = CreateThenDelete
		c.ID = p.newID(inst.Addr, "") // beside the old object
	}
}

func unknownComputed(s *providers.Schema, v cty.Value) cty.Value {
	m := v.AsValueMap()
	for name, a := range s.Attributes {
		if a.Computed && !a.Optional {
			m[name] = cty.UnknownVal(a.Type)
		}
	}
	return cty.ObjectVal(m)
}

func schemaSensitive(s *providers.Schema) []cty.Path {
	var ps []cty.Path
	for name, a := range s.Attributes {
		if a.Sensitive {
			ps = append(ps, cty.GetAttrPath(name))
		}
	}
	return ps
}

func (p *Planner) deleteChange(a addr.Instance, pr *prior, reason string) *Change {
	before := pr.current
	switch {
	case before.IsNull() && pr.deleting:
		before, reason = pr.value, "its delete was interrupted: finishing it"
	case before.IsNull() && pr.leftover != cty.NilVal:
		before, reason = pr.leftover, "its create was interrupted: removing what it may have left"
	case before.IsNull():
		before, reason = pr.value, "deleted outside labform: removing what it left (files, ports)"
	}
	return &Change{Addr: a, Type: pr.rec.Type, Provider: pr.rec.Provider, Action: Delete, PriorID: p.idOr(pr.id, a),
		Before: before, After: cty.NullVal(before.Type()), Private: pr.private,
		PriorDeps: parseAddrs(pr.rec.Deps), BeforeSensitive: parsePaths(pr.rec.Sensitive), Reason: reason}
}

func (p *Planner) checkPreventDestroy(plan *Plan) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, c := range plan.Changes {
		if c.Action != Delete && c.Action != DeleteThenCreate && c.Action != CreateThenDelete {
			continue
		}
		r := p.Lab.ResourceAt(c.Addr.Resource)
		if r != nil && r.Lifecycle.PreventDestroy {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Instance cannot be destroyed",
				Detail: fmt.Sprintf("%s has lifecycle.prevent_destroy set, but the plan would destroy it (%s). Remove prevent_destroy to allow it, or change the plan (-target, -exclude).",
					c.Addr, c.Action), Subject: r.DeclRange.Ptr()})
		}
	}
	return diags
}

func (p *Planner) planOutputs(plan *Plan, d *config.Desired, value func(addr.Instance) (cty.Value, bool)) hcl.Diagnostics {
	outs, diags := d.Outputs(value)
	before, err := p.Store.Outputs()
	if err != nil {
		return append(diags, diagErr("Cannot read outputs from state", err)...)
	}
	names := map[string]bool{}
	for n := range outs {
		names[n] = true
	}
	for n := range before {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		oc := &OutputChange{Name: n, Before: cty.NullVal(cty.DynamicPseudoType), After: cty.NullVal(cty.DynamicPseudoType)}
		if o, ok := outs[n]; ok {
			oc.After, oc.Sensitive = o.Value, o.Sensitive
		}
		if o, ok := before[n]; ok {
			if v, err := decodeOutput(o); err == nil {
				oc.Before = v
				oc.Sensitive = oc.Sensitive || o.Sensitive
			}
		}
		plan.Outputs = append(plan.Outputs, oc)
	}
	return diags
}

// filterTargets keeps the targeted changes and what they need (their
// dependencies for creates and updates, their dependants for deletes), and
// drops the excluded ones with what depends on them.
func filterTargets(cs []*Change, targets, excludes []addr.Target) []*Change {
	byAddr := map[addr.Instance]*Change{}
	dependants := map[addr.Instance][]addr.Instance{}
	for _, c := range cs {
		if c.Deposed {
			continue // kept or dropped below, by its own address
		}
		byAddr[c.Addr] = c
		for _, d := range c.Deps {
			dependants[d] = append(dependants[d], c.Addr)
		}
		for _, d := range c.PriorDeps {
			dependants[d] = append(dependants[d], c.Addr)
		}
	}
	matches := func(ts []addr.Target, a addr.Instance) bool {
		for _, t := range ts {
			if t.Matches(a) {
				return true
			}
		}
		return false
	}
	keep := map[addr.Instance]bool{}
	if len(targets) == 0 {
		for a := range byAddr {
			keep[a] = true
		}
	} else {
		var visit func(a addr.Instance)
		visit = func(a addr.Instance) {
			c, ok := byAddr[a]
			if !ok || keep[a] {
				return
			}
			keep[a] = true
			if c.Action == Delete {
				for _, d := range dependants[a] {
					if byAddr[d].Action == Delete {
						visit(d)
					}
				}
				return
			}
			for _, d := range c.Deps {
				visit(d)
			}
		}
		for _, c := range cs {
			if matches(targets, c.Addr) {
				visit(c.Addr)
			}
		}
	}
	var drop func(a addr.Instance)
	drop = func(a addr.Instance) {
		if !keep[a] {
			return
		}
		delete(keep, a)
		for _, d := range dependants[a] {
			drop(d)
		}
	}
	for _, c := range cs {
		if matches(excludes, c.Addr) {
			drop(c.Addr)
		}
	}
	var out []*Change
	for _, c := range cs {
		switch {
		case c.Deposed:
			if (len(targets) == 0 || matches(targets, c.Addr)) && !matches(excludes, c.Addr) {
				out = append(out, c)
			}
		case keep[c.Addr]:
			out = append(out, c)
		}
	}
	return out
}

func sortedPriorAddrs(m map[addr.Instance]*prior) []addr.Instance {
	out := make([]addr.Instance, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

func diagErr(summary string, err error) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: err.Error()}}
}

// ConfigHash identifies the lab files' contents.
func ConfigHash(l *config.Lab) string {
	h := sha256.New()
	files := l.Parser.Files()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(name), len(files[name].Bytes))
		h.Write(files[name].Bytes)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// reapplyDependants re-applies, in place, what depends on an object that
// is created, replaced or restarted while it stays the same itself: to a
// link, the new container's port is a new interface to join; to a
// firewall chain, the new container's namespace is empty.
func reapplyDependants(cs []*Change) {
	byAddr := make(map[addr.Instance]*Change, len(cs))
	for _, c := range cs {
		if !c.Deposed {
			byAddr[c.Addr] = c
		}
	}
	for _, c := range cs {
		if c.Action != NoOp && c.Action != Update {
			continue
		}
		for _, d := range c.Deps {
			dc := byAddr[d]
			if dc == nil {
				continue
			}
			var what string
			switch {
			case dc.Action == Create:
				what = "created again"
			case dc.Action == DeleteThenCreate || dc.Action == CreateThenDelete:
				what = "replaced"
			case dc.Action == Update && dc.Cost == providers.Restart:
				what = "restarted"
			default:
				continue
			}
			if c.Action == NoOp {
				c.Action, c.Cost = Update, providers.InPlace
				c.Reason = fmt.Sprintf("applied again: %s is %s", d, what)
			}
			c.Renewed = append(c.Renewed, d)
		}
	}
}

func matchesAny(ts []addr.Target, a addr.Instance) bool {
	for _, t := range ts {
		if t.Matches(a) {
			return true
		}
	}
	return false
}
