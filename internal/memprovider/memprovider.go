package memprovider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Provider behaves like a provider whose objects are values in a map.
type Provider struct {
	name         string
	schemas      map[string]*providers.Schema
	configSchema *providers.Block

	// Dir, when set, keeps objects as files so they survive the process.
	Dir string
	// Delay is slept in every Create, Update and Delete: half before the
	// object changes and half after, like a real provider that has made
	// the object but not yet returned (where a crash loses the most).
	Delay time.Duration
	// Fail returns an error for an action on an address ("create vm.a").
	Fail func(action, address string) error

	mu      sync.Mutex
	objects map[string]cty.Value
	Calls   struct{ Read, ReadMany, Create, Update, Delete atomic.Int64 }
	// Batch makes the provider a BatchReader.
	Batch bool
	// names is the wrapped real provider, whose Describe gives the host
	// names its objects would have (nil for New).
	names providers.Provider
	// ByID keys objects by the object ID the engine hands over, as the
	// real providers name host objects, instead of by address: two
	// objects of one address (create_before_destroy) then coexist, and a
	// wrong ID reads as a missing object.
	ByID bool
	// aliases maps the IDs of imported objects to their keys.
	aliases map[string]string
}

// key is where an object of a request lives.
func (p *Provider) key(address, id string) string {
	p.mu.Lock()
	alias, ok := p.aliases[id]
	p.mu.Unlock()
	if ok {
		return alias
	}
	if p.ByID && id != "" {
		return id
	}
	return address
}

// Wrap returns an in-memory provider with p's name and schemas.
func Wrap(p providers.Provider) *Provider {
	m := New(p.Name(), p.Schemas(), p.ConfigSchema())
	m.names = p
	return m
}

// Describe gives the host names the wrapped provider would give the
// object (a pure function of the lab, the ID and the value), so that
// views of a lab read as they would with the real providers.
func (p *Provider) Describe(req providers.DescribeRequest) providers.Description {
	if d, ok := p.names.(providers.Describer); ok {
		return d.Describe(req)
	}
	return providers.Description{}
}

// New returns an in-memory provider.
func New(name string, schemas map[string]*providers.Schema, cfg *providers.Block) *Provider {
	return &Provider{name: name, schemas: schemas, configSchema: cfg, objects: map[string]cty.Value{}}
}

var _ providers.Provider = (*Provider)(nil)

func (p *Provider) Name() string                          { return p.name }
func (p *Provider) Schemas() map[string]*providers.Schema { return p.schemas }
func (p *Provider) ConfigSchema() *providers.Block        { return p.configSchema }
func (p *Provider) Configure(context.Context, providers.ConfigureRequest) error {
	return nil
}

func (p *Provider) file(address string) string {
	h := sha256.Sum256([]byte(address))
	return filepath.Join(p.Dir, hex.EncodeToString(h[:8])+".json")
}

// Get returns the stored object, or a null value.
func (p *Provider) Get(address string) (cty.Value, bool) {
	if p.Dir != "" {
		b, err := os.ReadFile(p.file(address))
		if err != nil {
			return cty.NilVal, false
		}
		var sv ctyjson.SimpleJSONValue
		if err := sv.UnmarshalJSON(b); err != nil {
			panic(err)
		}
		return sv.Value, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.objects[address]
	return v, ok
}

// Set stores an object (tests use it to cause drift).
func (p *Provider) Set(address string, v cty.Value) {
	if p.Dir != "" {
		b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
		if err != nil {
			panic(err)
		}
		tmp := p.file(address) + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			panic(err)
		}
		if err := os.Rename(tmp, p.file(address)); err != nil {
			panic(err)
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects[address] = v
}

// Remove deletes an object (drift, or Delete).
func (p *Provider) Remove(address string) {
	if p.Dir != "" {
		os.Remove(p.file(address))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.objects, address)
}

// Keys lists the keys of the objects held in memory, sorted.
func (p *Provider) Keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.objects))
	for k := range p.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Len counts the objects.
func (p *Provider) Len() int {
	if p.Dir != "" {
		m, _ := filepath.Glob(filepath.Join(p.Dir, "*.json"))
		return len(m)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.objects)
}

func (p *Provider) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	p.Calls.Read.Add(1)
	v, ok := p.Get(p.key(req.Addr, req.ID))
	if !ok {
		return providers.ReadResponse{State: cty.NullVal(p.schemas[req.Type].ImpliedType())}, nil
	}
	if p.ByID {
		v = p.addressesFromPrior(req.Type, v, req.Prior)
	}
	return providers.ReadResponse{State: v, Private: req.Private}, nil
}

// addressesFromPrior takes the attributes that hold addresses (a chain's
// target, a link's endpoints) from the prior value, as the real providers
// do: the host knows objects by ID, and an address is only what the state
// calls them (a moved block changes it without touching the host).
func (p *Provider) addressesFromPrior(typ string, v, prior cty.Value) cty.Value {
	s := p.schemas[typ]
	if s == nil || prior == cty.NilVal || prior.IsNull() || !prior.IsKnown() || v.IsNull() {
		return v
	}
	m := v.AsValueMap()
	for name, a := range s.Attributes {
		if a.Reference || a.Type.Equals(cty.List(providers.EndpointType)) {
			m[name] = prior.GetAttr(name)
		}
	}
	return cty.ObjectVal(m)
}

// ReadMany is the batched read, used when Batch is set.
func (p *Provider) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	p.Calls.ReadMany.Add(1)
	resps := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		resps[i], errs[i] = p.Read(ctx, r)
	}
	return resps, errs
}

func (p *Provider) act(action string, req providers.ApplyRequest) error {
	if p.Delay > 0 {
		time.Sleep(p.Delay / 2)
	}
	if p.Fail != nil {
		return p.Fail(action, req.Addr)
	}
	return nil
}

func (p *Provider) Create(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	p.Calls.Create.Add(1)
	if err := p.act("create", req); err != nil {
		return providers.ApplyResponse{}, err
	}
	if _, exists := p.Get(p.key(req.Addr, req.ID)); exists {
		return providers.ApplyResponse{}, fmt.Errorf("%s already exists", req.Addr)
	}
	v := p.fill(req.Type, req.Addr, req.Planned)
	p.Set(p.key(req.Addr, req.ID), v)
	time.Sleep(p.Delay / 2)
	return providers.ApplyResponse{State: v, Private: []byte("mem:" + req.Addr)}, nil
}

func (p *Provider) Update(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	p.Calls.Update.Add(1)
	if err := p.act("update", req); err != nil {
		return providers.ApplyResponse{}, err
	}
	if _, exists := p.Get(p.key(req.Addr, req.ID)); !exists {
		return providers.ApplyResponse{}, fmt.Errorf("%s does not exist", req.Addr)
	}
	v := p.fill(req.Type, req.Addr, req.Planned)
	p.Set(p.key(req.Addr, req.ID), v)
	time.Sleep(p.Delay / 2)
	return providers.ApplyResponse{State: v, Private: req.Private}, nil
}

func (p *Provider) Delete(_ context.Context, req providers.ApplyRequest) error {
	p.Calls.Delete.Add(1)
	if err := p.act("delete", req); err != nil {
		return err
	}
	p.Remove(p.key(req.Addr, req.ID))
	time.Sleep(p.Delay / 2)
	return nil
}

// fill gives unknown computed attributes a value, as a real provider would
// (a pid, a path, a port).
func (p *Provider) fill(typ, address string, planned cty.Value) cty.Value {
	s := p.schemas[typ]
	attrs := planned.AsValueMap()
	// Derived from the address, not a counter: parallel creates finish in
	// any order, and golden files need the same values every run.
	h := fnv.New32a()
	h.Write([]byte(address))
	n := int64(h.Sum32() % 9000)
	for name, a := range s.Attributes {
		if attrs[name].IsKnown() {
			continue
		}
		switch {
		case a.Type == cty.Number:
			attrs[name] = cty.NumberIntVal(1000 + n)
		case a.Type == cty.String:
			attrs[name] = cty.StringVal(fmt.Sprintf("mem://%s/%s", address, name))
		case a.Type.IsListType():
			attrs[name] = cty.ListValEmpty(a.Type.ElementType())
		default:
			attrs[name] = cty.NullVal(a.Type)
		}
	}
	return cty.ObjectVal(attrs)
}

var _ providers.Importer = (*Provider)(nil)

// ImportIDForm: the key an object was stored under.
func (p *Provider) ImportIDForm(string) string { return "the key the object is stored under" }

// MakeOutside stores an object made outside labform under key, with its
// computed attributes filled as a create would: what import tests adopt.
func (p *Provider) MakeOutside(typ, key string, planned cty.Value) {
	p.Set(key, p.fill(typ, key, planned))
}

// Import adopts the object stored under the import ID: the object ID
// labform gives it becomes another name of that key (a real provider
// records the object's own names in its private data instead). Nothing
// moves: a plan that imports changes nothing.
func (p *Provider) Import(_ context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	v, ok := p.Get(req.ImportID)
	if !ok {
		return providers.ImportResponse{}, fmt.Errorf("no object %q", req.ImportID)
	}
	p.mu.Lock()
	if p.aliases == nil {
		p.aliases = map[string]string{}
	}
	p.aliases[req.ID] = req.ImportID
	p.mu.Unlock()
	return providers.ImportResponse{State: v}, nil
}
