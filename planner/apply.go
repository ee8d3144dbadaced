package planner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/labreg"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Hook receives apply's events; the CLI renders them. Methods are called
// from several goroutines at once.
type Hook interface {
	PreApply(c *Change)
	PostApply(c *Change, err error, elapsed time.Duration)
}

// NopHook ignores every event.
type NopHook struct{}

func (NopHook) PreApply(*Change)                        {}
func (NopHook) PostApply(*Change, error, time.Duration) {}

// ApplyOptions tune an apply.
type ApplyOptions struct {
	// BackupDir receives a copy of the state before anything changes;
	// empty means <state dir>/backups.
	BackupDir string
	// Stop, when done, stops new actions from starting (Ctrl-C); running
	// ones finish and their results are saved.
	Stop context.Context
	// Hook hears of every action of this apply; nil means the planner's
	// Hook, and nil there means none.
	Hook Hook
}

// RefreshHook is a Hook that also hears of refresh: which objects are
// read from the lab, and what was found. A plan (and an apply of one)
// calls it when the planner's Hook implements it.
type RefreshHook interface {
	PreRefresh(a addr.Instance)
	// PostRefresh says whether the object was found (gone: it no longer
	// exists) or why it could not be read.
	PostRefresh(a addr.Instance, gone bool, err error)
}

// hook is the hook to call: the given one, else the planner's, else one
// that ignores everything. The planner's Hook is never changed.
func (p *Planner) hook(h Hook) Hook {
	switch {
	case h != nil:
		return h
	case p.Hook != nil:
		return p.Hook
	}
	return NopHook{}
}

// ApplyResult says what an apply did.
type ApplyResult struct {
	Added, Changed, Destroyed int
	Errors                    map[string]error
	Skipped, NotStarted       []string
	Stopped                   bool
}

// Err combines every failure into one error (nil when all went well).
func (r *ApplyResult) Err() error {
	var merr *multierror.Error
	for _, id := range slices.Sorted(maps.Keys(r.Errors)) {
		merr = multierror.Append(merr, fmt.Errorf("%s: %w", id, r.Errors[id]))
	}
	if merr != nil {
		merr.ErrorFormat = func(es []error) string {
			lines := make([]string, len(es))
			for i, e := range es {
				lines[i] = "  * " + strings.ReplaceAll(e.Error(), "\n", "\n    ")
			}
			return fmt.Sprintf("%d error(s) during apply:\n%s", len(es), strings.Join(lines, "\n"))
		}
	}
	return merr.ErrorOrNil()
}

// vertex ids: one per change; a change's id is its address (a deposed
// object's delete is a change of its own beside its address's).
func vertexID(c *Change) string {
	if c.Deposed {
		return c.Addr.String() + " (deposed)"
	}
	return c.Addr.String()
}

// buildApplyGraph orders the plan's actions: creates and updates after
// what they depend on; deletes before what the deleted object depended on
// is deleted or replaced; an update that stops depending on something
// before that thing is deleted.
func buildApplyGraph(cs []*Change) (*Graph, map[string]*Change) {
	g := NewGraph()
	byAddr := map[addr.Instance]*Change{}
	ids := map[string]*Change{}
	for _, c := range cs {
		if c.Action == NoOp || c.Action == Read {
			continue
		}
		g.Add(vertexID(c))
		ids[vertexID(c)] = c
		if !c.Deposed { // a deposed object waits for nothing and nothing waits for it
			byAddr[c.Addr] = c
		}
	}
	creates := func(a Action) bool {
		return a == Create || a == Update || a == DeleteThenCreate || a == CreateThenDelete
	}
	destroys := func(a Action) bool { return a == Delete || a == DeleteThenCreate }
	for _, c := range cs {
		if byAddr[c.Addr] != c {
			continue
		}
		if creates(c.Action) {
			for _, d := range c.Deps {
				if dc, ok := byAddr[d]; ok && creates(dc.Action) {
					g.Connect(vertexID(dc), vertexID(c))
				}
			}
		}
		for _, d := range c.PriorDeps {
			dc, ok := byAddr[d]
			if !ok || !destroys(dc.Action) {
				continue
			}
			if c.Action == Delete || (creates(c.Action) && !contains(c.Deps, d)) {
				// c let go of d: do that before d goes away.
				g.Connect(vertexID(c), vertexID(dc))
			}
		}
	}
	return g, ids
}

func contains(as []addr.Instance, a addr.Instance) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// Apply carries out a plan. State is written after every single action,
// with an intent recorded before it.
//
// Everything Apply needs comes with the plan: its changes, the state they
// were planned against (Lineage, Serial, Backend), the lab's identity
// (LabID, LabName), the journal entries found settled, and the
// configuration they were planned from (Desired), from which it resolves
// what was unknown at plan time, runs the ready gates and writes the
// outputs. Nothing of the Plan call that made it is used: a Planner that
// never planned applies it as the one that did. It works on a copy of the
// changes and leaves the plan as it was given, so that a plan can be
// shown, saved or applied again (a stale one is refused). Events go to
// opts.Hook, else to the planner's Hook.
func (p *Planner) Apply(ctx context.Context, plan *Plan, opts ApplyOptions) (*ApplyResult, hcl.Diagnostics) {
	if plan.Errored {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Plan has errors", Detail: "A plan with errors cannot be applied."}}
	}
	meta, err := p.Store.Meta()
	if err != nil {
		return nil, diagErr("Cannot read state", err)
	}
	if plan.Backend != "" && plan.Backend != p.Store.Describe() {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Saved plan is for another state",
			Detail: fmt.Sprintf("The plan was made against the state in %s, but this lab's state is now in %s (its backend changed). Make a new plan.",
				plan.Backend, p.Store.Describe())}}
	}
	if meta.Lineage != plan.Lineage || meta.Serial != plan.Serial {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Saved plan is stale",
			Detail: fmt.Sprintf("The plan was made for state %s serial %d, but the state is now %s serial %d: something changed it since. Make a new plan.",
				plan.Lineage, plan.Serial, meta.Lineage, meta.Serial)}}
	}
	if p.Lab != nil && plan.ConfigHash != "" && ConfigHash(p.Lab) != plan.ConfigHash {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Saved plan does not match the configuration",
			Detail: "The lab files changed since this plan was made. Make a new plan."}}
	}
	if (plan.LabID != "" && plan.LabID != p.labID()) || (plan.LabName != "" && plan.LabName != p.labName()) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Saved plan is for another lab",
			Detail: fmt.Sprintf("The plan was made for the lab %q (lab id %s), but this is the lab %q (lab id %s): another lab took its name or place on this host since. Make a new plan.",
				plan.LabName, plan.LabID, p.labName(), p.labID())}}
	}
	if opts.Stop == nil {
		opts.Stop = context.Background()
	}
	plan = plan.clone()
	r := &applyRun{Planner: p, call: p.begin(plan.Desired), plan: plan, desired: plan.Desired, stop: opts.Stop, hook: p.hook(opts.Hook), backupDir: opts.BackupDir}
	return r.apply(ctx, meta)
}

// applyRun is one Apply's working set: its copy of the plan, the
// configuration the plan carries, and what its actions share. It lives
// for one Apply.
type applyRun struct {
	*Planner
	call    *call
	plan    *Plan
	desired *config.Desired
	// stop is ApplyOptions.Stop: a first Ctrl-C ends ready waits (no
	// provider call runs in them) as it stops new actions.
	stop      context.Context
	hook      Hook
	backupDir string
	pendingMu sync.Mutex
	pending   []pendingSettle
	wholeLab  bool // this apply destroys every object of the lab
}

func (p *applyRun) apply(ctx context.Context, meta state.Meta) (*ApplyResult, hcl.Diagnostics) {
	plan, hook := p.plan, p.hook
	backupDir := p.backupDir
	if backupDir == "" {
		backupDir = filepath.Join(filepath.Dir(p.Store.Path()), "backups")
	}
	if _, err := p.Store.Backup(backupDir, 10); err != nil {
		return nil, diagErr("Cannot back up the state", err)
	}
	if d := p.applyMovesToState(plan.Moves); d.HasErrors() {
		return nil, d
	}
	if d := p.saveRefresh(); d.HasErrors() {
		return nil, d
	}
	res := &ApplyResult{Errors: map[string]error{}}
	if plan.Mode == RefreshOnlyMode {
		return res, nil
	}
	g, ids := buildApplyGraph(plan.Changes)
	if len(ids) > 0 || len(plan.Imports) > 0 || meta.LabID != "" {
		// Before the first action: this lab holds its name on the host
		// (and a moved lab records its new place).
		if err := p.claimLab(plan.Mode); err != nil {
			var held *labreg.HeldError
			if errors.As(err, &held) {
				return nil, diagErr("Lab name in use", err)
			}
			return nil, diagErr("Cannot record the lab on this host", err)
		}
	}
	if d := p.writeImports(ctx, plan.Imports); d.HasErrors() {
		return nil, d
	}
	for _, c := range plan.Changes {
		if !c.Deposed && c.PriorID != "" {
			p.setObjectID(c.Addr.String(), c.PriorID)
		}
	}
	if cyc := g.Cycles(); len(cyc) > 0 {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cycle in the apply order", Detail: "These actions wait for each other: " + FormatCycles(cyc) + "."}}
	}
	intents, err := p.journalAll(ids)
	if err != nil {
		return nil, diagErr("Cannot write the journal", err)
	}
	p.wholeLab = plan.Mode == DestroyMode && p.deletesAll(plan)
	var counts counters
	wr := g.Walk(p.stop, p.parallelism(), func(id string) error {
		c := ids[id]
		hook.PreApply(c)
		start := time.Now()
		err := p.applyOne(ctx, c, intents[id], &counts)
		hook.PostApply(c, err, time.Since(start))
		return err
	})
	res.Errors, res.Skipped, res.NotStarted = wr.Errors, wr.Skipped, wr.NotStarted
	// Actions that never ran (skipped after a failure, not started after
	// Ctrl-C) or failed without touching the lab leave nothing for the next
	// plan to look for: close their journal entries. An action that failed
	// otherwise keeps its entries, and the next plan looks for what it may
	// have left.
	var untouched []uint64
	never := append(append([]string(nil), wr.Skipped...), wr.NotStarted...)
	for id, err := range wr.Errors {
		if errors.Is(err, providers.ErrNothingDone) {
			never = append(never, id)
		}
	}
	for _, id := range never {
		for _, seq := range intents[id] {
			untouched = append(untouched, seq)
		}
	}
	if len(untouched) > 0 {
		if err := p.Store.CloseIntents(untouched...); err != nil {
			return nil, diagErr("Cannot close journal entries", err)
		}
	}
	// Every result must be on disk before apply reports.
	for _, ps := range p.pending {
		if err := <-ps.done; err != nil {
			res.Errors[ps.addr] = fmt.Errorf("saving the result to state: %w", err)
		}
	}
	res.Stopped = p.stop.Err() != nil
	res.Added, res.Changed, res.Destroyed = int(counts.added.Load()), int(counts.changed.Load()), int(counts.destroyed.Load())
	// The lab can have become empty only if this apply deleted something,
	// or if it had nothing and made nothing; otherwise it holds objects,
	// and the look (which decodes every record) is spared.
	if res.Destroyed > 0 || (res.Added == 0 && !hadObjects(plan)) {
		p.releaseLab()
	}
	var diags hcl.Diagnostics
	if plan.Mode != DestroyMode && p.desired != nil {
		diags = append(diags, p.saveOutputs()...)
	} else if plan.Mode == DestroyMode && len(res.Errors) == 0 && !res.Stopped {
		if err := p.Store.SetOutputs(nil); err != nil {
			diags = append(diags, diagErr("Cannot write outputs", err)...)
		}
	}
	return res, diags
}

// hadObjects reports whether the plan knew of an object in state.
func hadObjects(plan *Plan) bool {
	for _, c := range plan.Changes {
		if c.Before != cty.NilVal && !c.Before.IsNull() {
			return true
		}
	}
	return false
}

// saveRefresh writes what the plan's refresh found: drifted values, objects
// deleted outside labform, objects adopted from interrupted creates.
func (p *applyRun) saveRefresh() hcl.Diagnostics {
	plan := p.plan
	var puts []*state.Record
	var dels []string
	var seqs []uint64
	for _, c := range plan.Drift {
		schema, err := p.Registry.Schema(c.Provider, c.Type)
		if err != nil {
			return diagErr("Cannot save refreshed state", err)
		}
		if c.After.IsNull() {
			dels = append(dels, c.Addr.String())
			continue
		}
		rec, err := p.record(c, schema, c.After, c.Private, c.PriorDeps)
		if err != nil {
			return diagErr("Cannot save refreshed state", err)
		}
		if old, err := p.Store.Get(rec.Addr); err == nil && old != nil && old.ID == rec.ID {
			rec.Tainted = old.Tainted // drift does not clear a taint
		}
		puts = append(puts, rec)
	}
	if len(puts) > 0 {
		if err := p.Store.Put(puts...); err != nil {
			return diagErr("Cannot save refreshed state", err)
		}
	}
	if len(dels) > 0 {
		if err := p.Store.Delete(dels...); err != nil {
			return diagErr("Cannot save refreshed state", err)
		}
	}
	intents, err := p.Store.Journal()
	if err != nil {
		return diagErr("Cannot read the journal", err)
	}
	// Every open intent was accounted for by the plan's refresh, except a
	// deposed object's (the old object of a create_before_destroy, or its
	// new object that was never recorded): only its delete, when it
	// succeeds, may close it. The plan found some deposed entries stale.
	stale := map[uint64]bool{}
	for _, seq := range plan.SettledIntents {
		stale[seq] = true
	}
	for _, in := range intents {
		switch {
		case stale[in.Seq]:
			seqs = append(seqs, in.Seq)
		case in.Action == state.DeleteDeposed:
		case in.Action == state.JournalCreate && in.ID != "":
			if rec, err := p.Store.Get(in.Addr); err == nil && rec != nil && rec.ID != "" && rec.ID != in.ID {
				continue
			}
			seqs = append(seqs, in.Seq)
		default:
			seqs = append(seqs, in.Seq)
		}
	}
	if len(seqs) > 0 {
		if err := p.Store.CloseIntents(seqs...); err != nil {
			return diagErr("Cannot close journal entries", err)
		}
	}
	return nil
}

func (p *Planner) record(c *Change, schema *providers.Schema, v cty.Value, private []byte, deps []addr.Instance) (*state.Record, error) {
	b, err := encodeValue(schema, v)
	if err != nil {
		return nil, err
	}
	return p.recordOf(c, b, private, deps), nil
}

// recordOf is record with the value already encoded.
func (p *Planner) recordOf(c *Change, b []byte, private []byte, deps []addr.Instance) *state.Record {
	return &state.Record{Addr: c.Addr.String(), Type: c.Type, Provider: c.Provider, ID: c.ID, Value: b, Private: private,
		Deps: addrStrings(deps), Sensitive: pathStrings(c.AfterSensitive)}
}

// applyOne performs one change, journaled: intent, provider call, result.
// counters count what an apply did, for its summary line.
type counters struct{ added, changed, destroyed atomic.Int64 }

func (p *applyRun) applyOne(ctx context.Context, c *Change, seqs map[state.JournalAction]uint64, n *counters) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the %s provider crashed: %v (a bug in labform; state up to here is saved)", c.Provider, r)
		}
	}()
	if c.Action == Forget {
		// The object keeps running; only its record goes.
		return p.Store.Delete(c.Addr.String())
	}
	prov, diags := p.provider(ctx, c.Provider)
	if diags.HasErrors() {
		return fmt.Errorf("%s", diags[0].Detail)
	}
	schema, err := p.Registry.Schema(c.Provider, c.Type)
	if err != nil {
		return err
	}
	if inst := p.desiredInstance(c); inst != nil && inst.UnknownArgs && c.After != cty.NilVal && !c.After.IsNull() {
		resolved, err := p.resolve(c, inst, schema)
		if err != nil {
			return err
		}
		c.After = resolved
	}
	req := providers.ApplyRequest{Type: c.Type, Addr: c.Addr.String(), ID: p.idOr(c.PriorID, c.Addr), Prior: c.Before, Planned: c.After, Private: c.Private, Cost: c.Cost, Sensitive: c.AfterSensitive,
		WholeLab: p.wholeLab && c.Action == Delete}
	for _, d := range c.Renewed {
		req.Renewed = append(req.Renewed, d.String())
	}
	// The old object of a replacement across providers (a node moved to
	// another host) is deleted where it is.
	delProv := prov
	if c.PriorProvider != "" && c.PriorProvider != c.Provider {
		if delProv, diags = p.provider(ctx, c.PriorProvider); diags.HasErrors() {
			return fmt.Errorf("%s", diags[0].Detail)
		}
	}
	del := func() error {
		seq := seqs[state.JournalDelete]
		if err := delProv.Delete(ctx, req); err != nil {
			return err
		}
		n.destroyed.Add(1)
		p.settleLater(c, p.Store.SettleAsync(seq, nil, c.Addr.String()))
		return nil
	}
	create := func() error {
		seq := seqs[state.JournalCreate]
		creq := req
		creq.Prior, creq.Private, creq.ID = cty.NullVal(c.After.Type()), nil, p.idOr(c.ID, c.Addr)
		early := encodeEarly(schema, c.After)
		resp, err := prov.Create(ctx, creq)
		if err != nil {
			return err
		}
		p.setObjectID(c.Addr.String(), creq.ID)
		// The ready gate runs before the result is written: a create
		// interrupted while waiting is found through its journal entry
		// like any other.
		tainted := ""
		readyErr := p.waitReady(ctx, c, prov, resp.State, creq.ID)
		var nr *NotReadyError
		if errors.As(readyErr, &nr) {
			tainted = fmt.Sprintf("not ready %s after its create", nr.Timeout)
		} else if readyErr != nil {
			tainted = "its ready wait did not finish: " + readyErr.Error()
		}
		if err := p.settleAs(seq, c, schema, resp, tainted, early); err != nil {
			return err
		}
		n.added.Add(1)
		return readyErr
	}
	if c.Deposed {
		if err := prov.Delete(ctx, req); err != nil {
			return fmt.Errorf("deleting the deposed object: %w", err)
		}
		n.destroyed.Add(1)
		p.settleLater(c, p.Store.SettleAsync(c.DeposedIntent, nil, ""))
		return nil
	}
	switch c.Action {
	case Create:
		return create()
	case Delete:
		return del()
	case DeleteThenCreate:
		if err := del(); err != nil {
			return err
		}
		return create()
	case CreateThenDelete:
		if err := create(); err != nil {
			return err
		}
		// The old object is deleted with its own private data; the record
		// now holds the new one, so the settle closes the intent only.
		seq := seqs[state.DeleteDeposed]
		if err := delProv.Delete(ctx, req); err != nil {
			return fmt.Errorf("created the new object but could not delete the old one: %w", err)
		}
		n.destroyed.Add(1)
		p.settleLater(c, p.Store.SettleAsync(seq, nil, ""))
		return nil
	case Update:
		seq := seqs[state.JournalUpdate]
		early := encodeEarly(schema, c.After)
		resp, err := prov.Update(ctx, req)
		if err != nil {
			return err
		}
		if err := p.settleAs(seq, c, schema, resp, "", early); err != nil {
			return err
		}
		n.changed.Add(1)
		return nil
	}
	return fmt.Errorf("unexpected action %s", c.Action)
}

// deletesAll reports whether the plan deletes every object the state
// records (a destroy without -target or -exclude).
func (p *Planner) deletesAll(plan *Plan) bool {
	recs, err := p.Store.Resources()
	if err != nil {
		return false
	}
	deleted := map[string]bool{}
	for _, c := range plan.Changes {
		if c.Action == Delete && !c.Deposed {
			deleted[c.Addr.String()] = true
		}
	}
	for a := range recs {
		if !deleted[a] {
			return false
		}
	}
	return true
}

// journalAll records the intent of every action of the plan in one
// transaction before any runs. The promise is that an action is journaled
// before it starts, not just before; an intent for an action that never
// ran is recovered like one that failed (refresh looks, the plan redoes).
// It keeps one fsync per action off the apply's critical path.
func (p *Planner) journalAll(ids map[string]*Change) (map[string]map[state.JournalAction]uint64, error) {
	type slot struct {
		id     string
		action state.JournalAction
	}
	var ins []*state.Intent
	var slots []slot
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		c := ids[id]
		schema, err := p.Registry.Schema(c.Provider, c.Type)
		if err != nil {
			return nil, err
		}
		var acts []state.JournalAction
		switch {
		case c.Deposed:
			// Its journal entry exists already: the delete settles it.
			continue
		case c.Action == Create:
			acts = []state.JournalAction{state.JournalCreate}
		case c.Action == Update:
			acts = []state.JournalAction{state.JournalUpdate}
		case c.Action == Delete:
			acts = []state.JournalAction{state.JournalDelete}
		case c.Action == DeleteThenCreate:
			acts = []state.JournalAction{state.JournalDelete, state.JournalCreate}
		case c.Action == CreateThenDelete:
			// Once the new object is written, only this entry knows the
			// old one: it carries the old object's private data.
			acts = []state.JournalAction{state.DeleteDeposed, state.JournalCreate}
		}
		for _, act := range acts {
			v, private := c.After, []byte(nil)
			if act == state.JournalDelete || act == state.DeleteDeposed {
				v = c.Before
			}
			if act == state.DeleteDeposed {
				private = c.Private
			}
			// Recovery reads the value of a create (to look for what it
			// made) and of a delete-deposed (the old object, which no
			// record holds); an update's or a delete's object is the
			// record's. Only those two carry it: a large value (a chain
			// of 10,000 rules) is written once, to its record.
			var b []byte
			if act == state.JournalCreate || act == state.DeleteDeposed {
				var err error
				if b, err = encodeValue(schema, v); err != nil {
					return nil, fmt.Errorf("%s: encoding the planned value: %w", c.Addr, err)
				}
			}
			objID, provider := c.ID, c.Provider
			if act == state.JournalDelete || act == state.DeleteDeposed {
				objID = c.PriorID
				if c.PriorProvider != "" {
					provider = c.PriorProvider // the old object is where it was
				}
			}
			ins = append(ins, &state.Intent{Addr: c.Addr.String(), Action: act, Type: c.Type, Provider: provider, ID: objID, Planned: b, Private: private})
			slots = append(slots, slot{id, act})
		}
	}
	out := make(map[string]map[state.JournalAction]uint64, len(ids))
	if len(ins) == 0 {
		return out, nil
	}
	seqs, err := p.Store.BeginMany(ins)
	if err != nil {
		return nil, err
	}
	for i, sl := range slots {
		if out[sl.id] == nil {
			out[sl.id] = map[state.JournalAction]uint64{}
		}
		out[sl.id][sl.action] = seqs[i]
	}
	return out, nil
}

// settleAs writes an action's result: its record, marked tainted (for
// the reason given) when tainted is not "". early is the planned value's
// encoding made while the provider worked (nil: none), used when the
// provider returned that value.
func (p *applyRun) settleAs(seq uint64, c *Change, schema *providers.Schema, resp providers.ApplyResponse, tainted string, early *earlyValue) error {
	v := resp.State
	if v == cty.NilVal || v.IsNull() {
		return fmt.Errorf("the %s provider returned no value (a bug in the provider)", c.Provider)
	}
	b, ok := early.of(v)
	if !ok {
		if !v.IsWhollyKnown() {
			return fmt.Errorf("the %s provider left unknown values in what it returned (a bug in the provider)", c.Provider)
		}
		var err error
		if b, err = encodeValue(schema, v); err != nil {
			return err
		}
	}
	rec := p.recordOf(c, b, resp.Private, c.Deps)
	rec.Tainted = tainted
	p.call.applied.Store(c.Addr, v)
	p.settleLater(c, p.Store.SettleAsync(seq, rec, ""))
	return nil
}

// earlyValue is a planned value being encoded for its record while the
// provider applies it: most providers return the planned value itself,
// and a large one (a chain of 10,000 rules) takes as long to encode as a
// good part of the provider's own work.
type earlyValue struct {
	v    cty.Value
	done chan struct{}
	b    []byte
	err  error
}

// encodeEarly starts encoding v; nil when v is not wholly known yet.
func encodeEarly(schema *providers.Schema, v cty.Value) *earlyValue {
	if v == cty.NilVal || v.IsNull() {
		return nil
	}
	e := &earlyValue{v: v, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		if !v.IsWhollyKnown() {
			e.err = errors.New("not wholly known")
			return
		}
		e.b, e.err = encodeValue(schema, v)
	}()
	return e
}

// of returns the encoding of v when v is the value encoded early.
func (e *earlyValue) of(v cty.Value) ([]byte, bool) {
	if e == nil {
		return nil, false
	}
	<-e.done
	if e.err != nil || !(sameValue(v, e.v) || v.RawEquals(e.v)) {
		return nil, false
	}
	return e.b, true
}

// sameValue reports whether a and b are one value, not merely equal ones:
// what a provider that returns the planned value it was given hands back.
// An object value holds its attributes in a map, whose identity reflect
// shows; comparing a chain of 10,000 rules attribute by attribute takes
// longer. False says nothing: the values may still be equal.
func sameValue(a, b cty.Value) bool {
	fa, fb := reflect.ValueOf(a).FieldByName("v"), reflect.ValueOf(b).FieldByName("v")
	if !fa.IsValid() || !fb.IsValid() || fa.Kind() != reflect.Interface || fb.Kind() != reflect.Interface {
		return false
	}
	ea, eb := fa.Elem(), fb.Elem()
	if !ea.IsValid() || !eb.IsValid() || ea.Kind() != reflect.Map || eb.Kind() != reflect.Map {
		return false
	}
	return ea.Pointer() == eb.Pointer() && a.Type().Equals(b.Type())
}

// settleLater remembers a result that is being written. The action's
// dependants need not wait for the disk: until the write lands, the
// action's intent is open, and a crash is recovered from the journal.
func (p *applyRun) settleLater(c *Change, done <-chan error) {
	p.pendingMu.Lock()
	defer p.pendingMu.Unlock()
	p.pending = append(p.pending, pendingSettle{addr: c.Addr.String(), done: done})
}

type pendingSettle struct {
	addr string
	done <-chan error
}

func (p *applyRun) desiredInstance(c *Change) *config.Instance {
	if p.desired == nil {
		return nil
	}
	return p.desired.Instances[c.Addr]
}

// resolve evaluates c's instance again now that what it depends on has
// been applied, so that arguments that were "known after apply" at plan
// time get their values before the provider sees them.
func (p *applyRun) resolve(c *Change, inst *config.Instance, schema *providers.Schema) (cty.Value, error) {
	v, diags := p.desired.EvalInstance(c.Addr, p.currentValue)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if !inst.ArgsKnown(v) {
		return cty.NilVal, fmt.Errorf("some arguments are still unknown after the resources they depend on were applied")
	}
	attrs := v.AsValueMap()
	planned := c.After.AsValueMap()
	for name, a := range schema.Attributes {
		// What the provider computes stays as planned (unknown, or kept
		// from the prior object).
		if _, written := inst.Resource.Content.Attrs[name]; a.Computed && !written {
			attrs[name] = planned[name]
		}
	}
	return cty.ObjectVal(attrs), nil
}

// currentValue is an instance's value as this apply left it, else as in
// state. Results are kept in memory because their state writes may still
// be on their way to disk when a dependant starts.
func (p *applyRun) currentValue(a addr.Instance) (cty.Value, bool) {
	if v, ok := p.call.applied.Load(a); ok {
		return v.(cty.Value), true
	}
	rec, err := p.Store.Get(a.String())
	if err != nil || rec == nil {
		return cty.NilVal, false
	}
	v, _, err := DecodeRecord(p.Registry, rec.Type, rec.Provider, rec.Value)
	return v, err == nil
}

// saveOutputs evaluates the outputs against the state as it now is.
func (p *applyRun) saveOutputs() hcl.Diagnostics {
	// The records are read only if an output refers to one: decoding
	// every record (a chain of 10,000 rules among them) is the cost.
	var recs map[string]*state.Record
	var err error
	var once sync.Once
	outs, diags := p.desired.Outputs(func(a addr.Instance) (cty.Value, bool) {
		once.Do(func() { recs, err = p.Store.Resources() })
		if err != nil {
			return cty.NilVal, false
		}
		rec, ok := recs[a.String()]
		if !ok {
			return cty.NilVal, false
		}
		schema, err := p.Registry.Schema(rec.Provider, rec.Type)
		if err != nil {
			return cty.NilVal, false
		}
		v, err := decodeValue(schema, rec.Value)
		return v, err == nil
	})
	if err != nil {
		return append(diags, diagErr("Cannot read state", err)...)
	}
	stored := map[string]*state.Output{}
	for _, name := range slices.Sorted(maps.Keys(outs)) {
		o := outs[name]
		if !o.Value.IsWhollyKnown() {
			continue // a resource it needs failed or was not applied
		}
		so, err := encodeOutput(o.Value, o.Sensitive)
		if err != nil {
			diags = append(diags, diagErr("Cannot save output "+name, err)...)
			continue
		}
		stored[name] = so
	}
	if err := p.Store.SetOutputs(stored); err != nil {
		diags = append(diags, diagErr("Cannot save outputs", err)...)
	}
	return diags
}

func encodeOutput(v cty.Value, sensitive bool) (*state.Output, error) {
	ty := v.Type()
	tb, err := ctyjson.MarshalType(ty)
	if err != nil {
		return nil, err
	}
	vb, err := ctyjson.Marshal(v, ty)
	if err != nil {
		return nil, err
	}
	return &state.Output{Value: vb, Type: tb, Sensitive: sensitive}, nil
}

func decodeOutput(o *state.Output) (cty.Value, error) {
	ty, err := ctyjson.UnmarshalType(o.Type)
	if err != nil {
		return cty.NilVal, err
	}
	return ctyjson.Unmarshal(o.Value, ty)
}

// DecodeOutput turns a stored output into its value.
func DecodeOutput(o *state.Output) (cty.Value, error) { return decodeOutput(o) }

// OutputJSON is an output's value as JSON.
func OutputJSON(v cty.Value) (json.RawMessage, error) {
	return ctyjson.Marshal(v, v.Type())
}
