package planner

import (
	"slices"
	"sort"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// Action is what the plan does to one instance.
type Action string

const (
	NoOp   Action = "no-op"
	Create Action = "create"
	Update Action = "update" // in place, or a restart when Cost says so
	Delete Action = "delete"
	// DeleteThenCreate replaces: it destroys, then creates (the default for
	// a replacement). Its value is "replace", as plans and their JSON say.
	DeleteThenCreate Action = "replace"
	// CreateThenDelete replaces with create_before_destroy.
	CreateThenDelete Action = "create-then-delete"
	// Read is a refresh-only change: state catches up with the lab.
	Read Action = "read"
	// Forget removes the record and leaves the object running (a removed
	// block with destroy = false).
	Forget Action = "forget"
)

// Change is the plan for one instance. Apply reads Action, Cost, Before,
// After, Private and the dependencies; Reason is for display only and must
// not drive what apply does.
type Change struct {
	Addr     addr.Instance
	Type     string
	Provider string
	// PriorProvider is the provider of the object being replaced when it
	// is not Provider (a node moved to another host): the old object is
	// deleted through it.
	PriorProvider string `json:",omitempty"`
	Action        Action
	// Cost is what an Update does (providers.InPlace or providers.Restart);
	// providers.Replace for a DeleteThenCreate or a CreateThenDelete.
	Cost   providers.Cost
	Before cty.Value // null for a create
	After  cty.Value // null for a delete; may hold unknowns
	// ForcedBy lists the changed attributes with their cost, for display.
	ForcedBy []PathCost
	Private  []byte
	// ID is the ID of the object the change leaves (a create's new one,
	// chosen at plan time); PriorID the existing object's. Host names
	// derive from them (providers/identity.go).
	ID, PriorID string
	// Deps are the instances After depends on; PriorDeps those the
	// existing object depended on when it was written.
	Deps      []addr.Instance
	PriorDeps []addr.Instance
	// Sensitive paths of Before and After.
	BeforeSensitive, AfterSensitive []cty.Path
	Reason                          string
	// Renewed are the instances among Deps that this plan creates again,
	// replaces or restarts while this object stays: a link's peers are
	// new nodes, with new interfaces and addresses to learn.
	Renewed []addr.Instance `json:",omitempty"`
	// Tainted marks the replacement of an object that state records as
	// tainted (Reason says why).
	Tainted bool
	// Deposed marks the delete of an object that a create_before_destroy
	// replaced but did not get to delete (labform stopped in between): no
	// record holds it; its journal entry does.
	Deposed bool
	// DeposedIntent is that journal entry's sequence number.
	DeposedIntent uint64
	// MovedFrom is the address the object was recorded at, when a moved
	// block gave it this one.
	MovedFrom *addr.Instance
	// ImportedFrom is the ID an imported object was found by.
	ImportedFrom string
}

// PathCost is a changed attribute and what its change costs.
type PathCost struct {
	Path cty.Path
	Cost providers.Cost
}

// Plan is a whole plan.
type Plan struct {
	Mode    Mode
	Changes []*Change // sorted by address, no-ops included
	// Moves are the records that moved blocks relabel; apply does that
	// first, whatever -target says.
	Moves []Move
	// Imports are the objects adopted by import blocks or `labform
	// import`: apply records them first.
	Imports []*Change
	// Drift lists objects that changed outside labform since the last
	// apply (refresh found them different from state).
	Drift   []*Change
	Outputs []*OutputChange
	// Lineage and Serial are the state's when the plan was made; a saved
	// plan applies only to that exact state.
	Lineage string
	Serial  uint64
	// Backend identifies the state the plan was made against (its kind
	// and place, state.Backend's Describe); a saved plan applies to it only.
	Backend string
	// ConfigHash identifies the lab files the plan was made from.
	ConfigHash string
	// LabID and LabName are the lab's identity the plan was made under:
	// the ID its objects' IDs derive from, and the name its host objects
	// live under (the recorded one, for the destroy of a renamed lab).
	// Apply refuses a plan made under another.
	LabID, LabName string
	// SettledIntents are open journal entries the plan found settled
	// already (the old object of an interrupted create_before_destroy,
	// which stays): Apply closes them with the refresh's results.
	SettledIntents []uint64
	// Errored plans are shown but never applied.
	Errored bool
	// Desired is the evaluated configuration the plan was made from: Apply
	// resolves what was unknown at plan time, runs the ready gates and
	// checks, and writes the outputs from it. Plan sets it; for a saved
	// plan, the caller sets it from Evaluate. Nil when the configuration
	// did not evaluate (a destroy may still go ahead). It is not saved
	// in a plan file: the lab files are, and ConfigHash checks them.
	Desired *config.Desired
}

// clone copies the plan and its changes, so that Apply can fill in what
// was unknown without changing the plan it was given.
func (p *Plan) clone() *Plan {
	cp := *p
	copyAll := func(cs []*Change) []*Change {
		out := make([]*Change, len(cs))
		for i, c := range cs {
			c2 := *c
			out[i] = &c2
		}
		return out
	}
	cp.Changes, cp.Imports, cp.Drift = copyAll(p.Changes), copyAll(p.Imports), copyAll(p.Drift)
	cp.Moves, cp.Outputs = slices.Clone(p.Moves), slices.Clone(p.Outputs)
	cp.SettledIntents = slices.Clone(p.SettledIntents)
	return &cp
}

// Mode is the kind of plan.
type Mode string

const (
	NormalMode      Mode = "normal"
	DestroyMode     Mode = "destroy"
	RefreshOnlyMode Mode = "refresh-only"
)

// OutputChange is an output's value before and after.
type OutputChange struct {
	Name          string
	Before, After cty.Value
	Sensitive     bool
}

// Counts returns how many instances the plan adds, changes and destroys,
// as the summary line counts them (a replacement adds one and destroys one).
func (p *Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update:
			change++
		case Delete:
			destroy++
		case DeleteThenCreate, CreateThenDelete:
			add++
			destroy++
		}
	}
	return
}

// HasChanges reports whether applying would change anything, including
// outputs and, in refresh-only mode, state.
func (p *Plan) HasChanges() bool {
	if len(p.Moves) > 0 || len(p.Imports) > 0 {
		return true
	}
	for _, c := range p.Changes {
		if c.Action != NoOp {
			return true
		}
	}
	for _, o := range p.Outputs {
		if !valuesEqual(o.Before, o.After) {
			return true
		}
	}
	return false
}

func sortChanges(cs []*Change) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Addr.Less(cs[j].Addr) })
}

// Forgets counts the objects the plan forgets without destroying them.
func (p *Plan) Forgets() int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == Forget {
			n++
		}
	}
	return n
}
