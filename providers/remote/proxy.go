package remote

import (
	"context"
	"fmt"
	"sync"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/agent"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// init installs this package's constructors in the providers package,
// which cannot import it (remote imports providers): a lab with host
// blocks gets proxies and cross-host links only when a binary links
// remote, and the providers package stays free of SSH.
func init() {
	providers.HostFactory = func(base providers.Provider, h providers.Host) providers.Provider { return New(base, h) }
	providers.CrossHostLinks = func(r *providers.Registry) providers.Provider { return NewLinks(r) }
}

// Proxy serves one provider's objects on one remote host through the
// host's agent. Its schemas and value checks are the local provider's
// (the agent is the same binary); everything that touches the host is a
// call to the agent.
type Proxy struct {
	base providers.Provider
	host providers.Host
	conn *conn

	mu     sync.Mutex
	lab    providers.Lab
	config []byte
}

var (
	_ providers.Provider     = (*Proxy)(nil)
	_ providers.BatchReader  = (*Proxy)(nil)
	_ providers.Validator    = (*Proxy)(nil)
	_ providers.LabValidator = (*Proxy)(nil)
	_ providers.HostChecker  = (*Proxy)(nil)
	// Proxies of providers without PlanComputed return Planned as it is.
	_ providers.ComputedPlanner = (*Proxy)(nil)
	_ providers.Resolver        = (*Proxy)(nil)
)

// New returns the proxy of base on h.
func New(base providers.Provider, h providers.Host) *Proxy {
	return &Proxy{base: base, host: h, conn: connFor(h)}
}

// Host is the host the proxy reaches.
func (p *Proxy) Host() providers.Host { return p.host }

// Name is the provider's name qualified by its host (see
// providers.HostedName): state records it, so that an object's provider
// says which host it lives on.
func (p *Proxy) Name() string                          { return providers.HostedName(p.base.Name(), p.host.Name) }
func (p *Proxy) Schemas() map[string]*providers.Schema { return p.base.Schemas() }
func (p *Proxy) ConfigSchema() *providers.Block        { return p.base.ConfigSchema() }
func (p *Proxy) baseName() string                      { return p.base.Name() }
func (p *Proxy) labInfo() providers.Lab                { p.mu.Lock(); defer p.mu.Unlock(); return p.lab }

// Configure keeps the lab and the provider block's value; the host is
// reached at the first call that needs it, so that a host that cannot be
// reached fails only its own objects.
func (p *Proxy) Configure(_ context.Context, req providers.ConfigureRequest) error {
	cfg, err := agent.Encode(req.Config)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.lab, p.config = req.Lab, cfg
	p.mu.Unlock()
	return nil
}

// ensure configures the provider on the agent, once per connection.
func (p *Proxy) ensure() error {
	if _, err := p.conn.connect(); err != nil {
		return err
	}
	p.conn.mu.Lock()
	done := p.conn.configured[p.baseName()]
	p.conn.mu.Unlock()
	if done {
		return nil
	}
	lab := p.labInfo()
	if err := p.conn.syncLab(lab.Dir); err != nil {
		return err
	}
	p.mu.Lock()
	cfg := p.config
	p.mu.Unlock()
	args := agent.ConfigureArgs{Provider: p.baseName(), Config: cfg,
		Lab: agent.Lab{Name: lab.Name, Dir: lab.Dir, ID: lab.Key(), Host: p.host.Name}}
	if err := p.conn.call("Configure", args, &agent.Empty{}); err != nil {
		return p.conn.errorf("configuring the %s provider: %v", p.baseName(), err)
	}
	p.conn.mu.Lock()
	p.conn.configured[p.baseName()] = true
	p.conn.mu.Unlock()
	return nil
}

// ids tells the agent the IDs of the objects the values refer to (a
// link's nodes, a chain's container): what IDOf answers here.
func (p *Proxy) ids(addrs []string, vals ...cty.Value) map[string]string {
	lab := p.labInfo()
	out := map[string]string{}
	add := func(s string) {
		if _, seen := out[s]; seen {
			return
		}
		if _, err := addr.ParseInstance(s); err != nil {
			return
		}
		// The object's ID as the operator knows it: recorded, or the
		// slot-0 ID its lab ID gives (which the host's, salted, would not).
		out[s] = lab.Object(s)
	}
	for _, a := range addrs {
		add(a)
	}
	for _, v := range vals {
		if v == cty.NilVal || !v.IsWhollyKnown() {
			continue
		}
		cty.Walk(v, func(_ cty.Path, x cty.Value) (bool, error) {
			if x.IsKnown() && !x.IsNull() && x.Type() == cty.String {
				add(x.AsString())
			}
			return true, nil
		})
	}
	return out
}

// Read is ReadMany of one: each call to the agent is a round trip over
// SSH, so the engine reads through ReadMany in one batch per host.
func (p *Proxy) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	r, e := p.ReadMany(ctx, []providers.ReadRequest{req})
	return r[0], e[0]
}

// ReadMany reads every object of this provider on the host in one round
// trip to its agent.
func (p *Proxy) ReadMany(_ context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	resps := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	fail := func(err error) ([]providers.ReadResponse, []error) {
		for i := range errs {
			errs[i] = err
		}
		return resps, errs
	}
	if err := p.ensure(); err != nil {
		return fail(err)
	}
	args := agent.ReadManyArgs{Provider: p.baseName(), IDs: map[string]string{}}
	for _, r := range reqs {
		prior, err := agent.Encode(r.Prior)
		if err != nil {
			return fail(err)
		}
		args.Reqs = append(args.Reqs, agent.ReadReq{Type: r.Type, Addr: r.Addr, ID: r.ID, Prior: prior, Private: r.Private})
		for a, id := range p.ids([]string{r.Addr}, r.Prior) {
			args.IDs[a] = id
		}
	}
	var reply agent.ReadManyReply
	if err := p.conn.call("ReadMany", args, &reply); err != nil {
		return fail(err)
	}
	for i, res := range reply.Results {
		if errs[i] = res.Error(); errs[i] != nil {
			continue
		}
		st, err := agent.Decode(res.State)
		if err != nil {
			errs[i] = err
			continue
		}
		if st == cty.NilVal {
			st = cty.NullVal(reqs[i].Prior.Type())
		}
		resps[i] = providers.ReadResponse{State: st, Private: res.Private, Restart: res.Restart}
	}
	return resps, errs
}

// apply runs one action on the host's agent. It sends the IDs of the
// objects the values name (ids): the agent runs the local provider, which
// derives host names from IDs, and the host has no state to look them up
// in.
func (p *Proxy) apply(op string, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := p.ensure(); err != nil {
		return providers.ApplyResponse{}, err
	}
	args := agent.ApplyArgs{Provider: p.baseName(), Op: op, IDs: p.ids([]string{req.Addr}, req.Prior, req.Planned),
		Type: req.Type, Addr: req.Addr, ID: req.ID, Private: req.Private, Cost: req.Cost, WholeLab: req.WholeLab}
	var err error
	if args.Prior, err = agent.Encode(req.Prior); err != nil {
		return providers.ApplyResponse{}, err
	}
	if args.Planned, err = agent.Encode(req.Planned); err != nil {
		return providers.ApplyResponse{}, err
	}
	var res agent.Result
	if err := p.conn.call("Apply", args, &res); err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := res.Error(); err != nil {
		return providers.ApplyResponse{}, err
	}
	st, err := agent.Decode(res.State)
	return providers.ApplyResponse{State: st, Private: res.Private}, err
}

func (p *Proxy) Create(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.apply("create", req)
}

func (p *Proxy) Update(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.apply("update", req)
}

func (p *Proxy) Delete(_ context.Context, req providers.ApplyRequest) error {
	_, err := p.apply("delete", req)
	return err
}

// ValidateResource checks values as the local provider does: the checks
// of values do not depend on the host.
func (p *Proxy) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	if val, ok := p.base.(providers.Validator); ok {
		return val.ValidateResource(typ, v)
	}
	return nil
}

// ValidateLab checks the lab's values together as the local provider
// does; like ValidateResource, it needs nothing of the host.
func (p *Proxy) ValidateLab(typ string, values map[string]cty.Value) map[string][]*providers.AttrError {
	if val, ok := p.base.(providers.LabValidator); ok {
		return val.ValidateLab(typ, values)
	}
	return nil
}

// CheckHost runs the provider's checks of the host (netem, KVM) on the
// object's own host. A host that cannot be reached is not judged here: its
// objects fail with the SSH error when they are read or applied.
func (p *Proxy) CheckHost(typ string, v cty.Value) []*providers.AttrError {
	if _, ok := p.base.(providers.HostChecker); !ok {
		return nil
	}
	b, err := agent.Encode(v)
	if err != nil {
		return nil
	}
	var reply agent.CheckReply
	if err := p.conn.call("CheckHost", agent.CheckArgs{Provider: p.baseName(), Type: typ, Value: b}, &reply); err != nil {
		return nil
	}
	errs := agent.ToAttrErrors(reply.Errors)
	for _, e := range errs {
		e.Summary = fmt.Sprintf("%s (on host %s)", e.Summary, p.host.Name)
	}
	return errs
}

// Capabilities asks the host's agent what the host has, with the tools of
// the named providers, and whether the lab's directory (when given) is
// there.
func Capabilities(h providers.Host, provs []string, labDir string) (agent.Capabilities, error) {
	var c agent.Capabilities
	err := connFor(h).call("Capabilities", agent.CapabilitiesArgs{Providers: provs, LabDir: labDir}, &c)
	return c, err
}

// PlanComputed is the local provider's: what it knows at plan time
// depends on the values, not on the host.
func (p *Proxy) PlanComputed(req providers.PlanRequest) cty.Value {
	if cp, ok := p.base.(providers.ComputedPlanner); ok {
		return cp.PlanComputed(req)
	}
	return req.Planned
}

// Resolve is the local provider's: an image reference names the same
// digest wherever it is asked, and the lab's files are read here.
func (p *Proxy) Resolve(ctx context.Context, req providers.ResolveRequest) (providers.ResolveResponse, error) {
	if r, ok := p.base.(providers.Resolver); ok {
		return r.Resolve(ctx, req)
	}
	return providers.ResolveResponse{}, nil
}
