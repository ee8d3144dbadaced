package providers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Lab is what every provider learns about the lab it works for. Providers
// derive the names of what they create (namespaces, interfaces, working
// directories) from it, so that two labs never collide.
type Lab struct {
	Name string // the lab's name (lab { name } or the directory's name)
	Dir  string // the directory holding the *.lab.hcl files
	// WorkDir is where providers keep files of their own (bundles, QEMU
	// working directories): <Dir>/.labform/<provider>.
	WorkDir string
	// ID is the lab's identity on the host (see identity.go); empty for
	// labs built by hand, which then use one derived from Dir.
	ID string
	// IDOf returns the ID of the object that now stands at an address
	// ("" when none is known): how a link finds its nodes' ports, and a
	// firewall chain its container's namespace.
	IDOf func(addr string) string
	// Carrier, when set, plugs (up) or pulls the cable at a node's port
	// inside the node, through the node's provider (CarrierSetter): for
	// nodes whose ports take no carrier from the lab namespace (a QEMU
	// adapter is a tap; its guest sees carrier only through QMP set_link).
	// The link provider calls it beside setting its lab-side end; nodes
	// whose provider has no CarrierSetter are left alone.
	Carrier func(ctx context.Context, node string, port int, up bool) error
}

// ConfigureRequest carries the provider block's value (null when the lab
// has no such block) and the lab.
type ConfigureRequest struct {
	Lab    Lab
	Config cty.Value
}

// ReadRequest asks for the live state of one instance.
type ReadRequest struct {
	Type    string
	Addr    string    // readable address, e.g. vm.leaf[1]
	ID      string    // the object's ID: host names derive from it (identity.go)
	Prior   cty.Value // the last known value (from state, or the planned value of an unfinished create)
	Private []byte    // the provider's own data from the last write
}

// ReadResponse is the live state. A null State means the object is gone;
// that is not an error.
type ReadResponse struct {
	State   cty.Value
	Private []byte
	// Restart, when set, says why the object cannot reach any running
	// value in place (a VM whose QMP status is internal-error or shutdown,
	// which `cont` refuses): the plan restarts it unless it is to be
	// stopped, and gives this as the reason.
	Restart string
}

// ApplyRequest asks to create, update or delete one instance.
type ApplyRequest struct {
	Type string
	Addr string
	// ID is the object's ID, chosen by the engine before a create and
	// recorded; host names derive from it (identity.go).
	ID      string
	Prior   cty.Value // null for a create
	Planned cty.Value // null for a delete; computed attributes may be unknown
	Private []byte
	// Cost says what the update must do: InPlace or Restart (stop,
	// reconfigure, start). Replace never reaches Update: the planner turns
	// it into Delete and Create.
	Cost Cost
	// Sensitive are the paths of Planned that hold sensitive values: a
	// provider keeps them out of argv where the tool allows, and out of
	// its logs.
	Sensitive []cty.Path
	// WholeLab is set on the deletes of a destroy that deletes every
	// object of the lab. A provider may then leave what it made inside
	// the lab's namespace to that namespace's removal (the kernel deletes
	// its interfaces in one batch) instead of deleting it piece by piece;
	// a partial destroy never has it, and stays precise.
	WholeLab bool
	// Renewed are the nodes this object refers to that this apply made
	// anew (created again, replaced, restarted) while the object stays: a
	// link's nodes at those ends have new interfaces, whose addresses
	// their peers must learn again.
	Renewed []string
}

// ApplyResponse is the object's value after a create or update, wholly
// known, and private data the engine stores without reading.
type ApplyResponse struct {
	State   cty.Value
	Private []byte
}

// Provider is one backend. Its methods may be called concurrently for
// different instances.
type Provider interface {
	// Name is what a lab writes in provider = NAME and provider "NAME" {}.
	Name() string
	// Schemas maps each resource type this provider serves to its schema.
	Schemas() map[string]*Schema
	// ConfigSchema is the schema of the provider block.
	ConfigSchema() *Block
	Configure(ctx context.Context, req ConfigureRequest) error
	// Read, Create, Update and Delete work on one instance. Their errors
	// say what was run and what it answered, but not the instance's
	// address: the engine puts it in front of every error once, so that a
	// message never names it twice. An error from an action that changed
	// nothing is marked with NothingDone.
	Read(ctx context.Context, req ReadRequest) (ReadResponse, error)
	Create(ctx context.Context, req ApplyRequest) (ApplyResponse, error)
	Update(ctx context.Context, req ApplyRequest) (ApplyResponse, error)
	Delete(ctx context.Context, req ApplyRequest) error
}

// BatchReader is implemented by providers that can refresh many instances
// with one call to the underlying tool (one runc list, one iptables-save
// per namespace). Responses and errors are index-aligned with reqs.
type BatchReader interface {
	ReadMany(ctx context.Context, reqs []ReadRequest) ([]ReadResponse, []error)
}

// Validator is implemented by providers that check values beyond their
// schema's types (a netem impairment on a kernel without netem, an owner
// match hooked from INPUT). It runs at validate and plan time.
type Validator interface {
	ValidateResource(typ string, v cty.Value) []*AttrError
}

// ToolChecker is implemented by providers that run external tools; init
// reports the tools that are missing.
type ToolChecker interface {
	Tools() []string
}

// ErrNothingDone marks errors from actions that failed before changing
// anything in the lab (a refused request, a missing tool). The engine
// then closes the action's journal entry instead of leaving it for the
// next plan to investigate. Mark an error with NothingDone, which leaves
// its text alone; errors.Is(err, ErrNothingDone) finds the mark.
var ErrNothingDone = errors.New("nothing was changed")

// NothingDone marks err as having changed nothing in the lab (see
// ErrNothingDone) without changing what it says. It returns nil for nil.
func NothingDone(err error) error {
	if err == nil {
		return nil
	}
	return nothingDone{err}
}

type nothingDone struct{ err error }

func (e nothingDone) Error() string        { return e.err.Error() }
func (e nothingDone) Unwrap() error        { return e.err }
func (e nothingDone) Is(target error) bool { return target == ErrNothingDone }

// AttrError is a problem with one attribute of a resource's value. The
// engine turns Path into the attribute's source range, so that a
// provider's complaint points at a line of HCL.
type AttrError struct {
	Path    cty.Path
	Summary string
	Detail  string
}

func (e *AttrError) Error() string {
	if e.Detail == "" {
		return e.Summary
	}
	return e.Summary + ": " + e.Detail
}

// Registry maps provider names to providers, and resource types to the
// provider used when a resource names none.
type Registry struct {
	byName   map[string]Provider
	defaults map[string]string // resource type -> provider name
	// Schemas are taken once at registration and finalized, so every
	// caller sees the same defaults and costs.
	schemas       map[string]map[string]*Schema
	configSchemas map[string]*Block
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: map[string]Provider{}, defaults: map[string]string{},
		schemas: map[string]map[string]*Schema{}, configSchemas: map[string]*Block{}}
}

// Register adds p; the first provider registered for a resource type is
// that type's default. Registering a name twice is a programming error.
func (r *Registry) Register(p Provider) {
	if _, dup := r.byName[p.Name()]; dup {
		panic("providers: duplicate provider " + p.Name())
	}
	r.byName[p.Name()] = p
	schemas := p.Schemas()
	for _, typ := range slices.Sorted(maps.Keys(schemas)) {
		schemas[typ].Finalize()
		if _, ok := r.defaults[typ]; !ok {
			r.defaults[typ] = p.Name()
		}
	}
	r.schemas[p.Name()] = schemas
	cs := p.ConfigSchema()
	if cs == nil {
		cs = &Block{}
	}
	finalizeBlock(cs, "provider.")
	r.configSchemas[p.Name()] = cs
}

// ConfigSchema returns the schema of the named provider's block.
func (r *Registry) ConfigSchema(provider string) *Block {
	return r.configSchemas[provider]
}

// Provider returns the named provider.
func (r *Registry) Provider(name string) (Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// Default returns the provider used for typ when a resource names none.
func (r *Registry) Default(typ string) (string, bool) {
	n, ok := r.defaults[typ]
	return n, ok
}

// Names lists the registered providers, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		if r.hosted(n) {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Types lists the resource types any provider serves, sorted.
func (r *Registry) Types() []string {
	return slices.Sorted(maps.Keys(r.defaults))
}

// ProvidersFor lists the providers that serve typ, sorted.
func (r *Registry) ProvidersFor(typ string) []string {
	var names []string
	for n := range r.byName {
		if _, ok := r.schemas[n][typ]; ok && !r.hosted(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Schema returns the schema of typ as provider serves it.
func (r *Registry) Schema(provider, typ string) (*Schema, error) {
	schemas, ok := r.schemas[provider]
	if !ok {
		schemas, ok = r.hostedSchemas(provider)
	}
	if !ok {
		return nil, fmt.Errorf("no provider %q (known: %s)", provider, strings.Join(r.Names(), ", "))
	}
	s, ok := schemas[typ]
	if !ok {
		return nil, fmt.Errorf("provider %q does not serve %q resources (providers for %s: %s)",
			provider, typ, typ, strings.Join(r.ProvidersFor(typ), ", "))
	}
	return s, nil
}

// LabValidator is implemented by providers whose checks span instances
// (a port joined by two links). values maps each instance's address to its
// value; the result maps addresses to their problems.
type LabValidator interface {
	ValidateLab(typ string, values map[string]cty.Value) map[string][]*AttrError
}

// HostChecker is implemented by providers whose resources need features
// the host may lack (netem in the kernel). Plan and apply run it;
// validate does not, so a lab validates on any machine and fails to plan,
// clearly, only where it cannot run.
type HostChecker interface {
	CheckHost(typ string, v cty.Value) []*AttrError
}

// PlanRequest is a planned change of one instance, for ComputedPlanner.
type PlanRequest struct {
	Lab  Lab
	Type string
	Addr string
	// Prior is null for a create. Planned, never null, has the arguments
	// as the lab writes them (some may be unknown until what they refer to
	// is applied); the computed attributes the planner could not keep
	// from Prior are unknown.
	Prior, Planned cty.Value
	// Cost is InPlace or Restart for an update, Replace for a create or a
	// replacement.
	Cost Cost
}

// ComputedPlanner is implemented by providers that know at plan time what
// some computed attributes will be after a change (MAC addresses derived
// from a base address, a socket path derived from the address), or know
// that an in-place change will change one (a stopped container started
// again gets a new pid). PlanComputed returns req.Planned with those
// attributes set: known values where the provider can tell, unknown ones
// where the change will set them. It must not change anything else.
type ComputedPlanner interface {
	PlanComputed(req PlanRequest) cty.Value
}
