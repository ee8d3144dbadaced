package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"

	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/link"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
)

// VXLANOverhead is what VXLAN adds to each frame on the underlay: outer
// Ethernet, IPv4, UDP and VXLAN headers.
const VXLANOverhead = 50

// VXLANPort is the UDP port of the tunnels (IANA's).
const VXLANPort = 4789

// Links is the provider of links whose ends sit on different hosts. Each
// host with ends of the link gets a half: the link provider there makes a
// bridge with that host's ports, and a VXLAN interface (one VNI per link)
// that reaches the other halves over the hosts' underlay addresses.
type Links struct {
	reg *providers.Registry

	mu        sync.Mutex
	lab       providers.Lab
	nodeHosts map[string]string // node resource address -> host
	once      map[string]*sync.Once
	confErr   map[string]error
}

var (
	_ providers.Provider    = (*Links)(nil)
	_ providers.BatchReader = (*Links)(nil)
	_ providers.Validator   = (*Links)(nil)
	_ providers.HostChecker = (*Links)(nil)
)

// NewLinks returns the provider of links across the hosts of reg.
func NewLinks(reg *providers.Registry) *Links {
	return &Links{reg: reg, nodeHosts: map[string]string{}, once: map[string]*sync.Once{}, confErr: map[string]error{}}
}

// SetNodeHosts tells which host each node (by resource address) is on.
func (x *Links) SetNodeHosts(m map[string]string) {
	x.mu.Lock()
	x.nodeHosts = m
	x.mu.Unlock()
}

// Name is the provider the configuration gives every link whose ends
// are on different hosts (config/hosts.go); a link within one host goes
// to that host's own link provider.
func (x *Links) Name() string                   { return providers.CrossHostProvider }
func (x *Links) ConfigSchema() *providers.Block { return &providers.Block{} }

// Schemas is the link schema, with a default mtu that leaves room for
// VXLAN's headers in a 1500-byte underlay.
func (x *Links) Schemas() map[string]*providers.Schema {
	s := link.New().Schemas()
	s["link"].Block.Attributes["mtu"] = providers.OptionalDefault(cty.NumberIntVal(1500-VXLANOverhead), providers.InPlace,
		"the MTU of the link's interfaces; across hosts at most the underlay's MTU less VXLAN's 50 bytes")
	s["link"].Description = "a wire or segment between ports on different hosts, over VXLAN"
	return s
}

// Configure keeps the lab; each host's link provider is configured when a
// half first needs it (sub), so that a host that cannot be reached fails
// only the links that reach it.
func (x *Links) Configure(_ context.Context, req providers.ConfigureRequest) error {
	x.mu.Lock()
	x.lab = req.Lab
	x.mu.Unlock()
	return nil
}

// sub is the link provider of a host, configured for the lab.
func (x *Links) sub(host string) (providers.Provider, error) {
	name := providers.HostedName("link", host)
	p, ok := x.reg.Provider(name)
	if !ok {
		return nil, fmt.Errorf("no host %q is declared", host)
	}
	x.mu.Lock()
	o, ok := x.once[name]
	if !ok {
		o = &sync.Once{}
		x.once[name] = o
	}
	lab := x.lab
	x.mu.Unlock()
	o.Do(func() {
		err := p.Configure(context.Background(), providers.ConfigureRequest{Lab: lab, Config: cty.NullVal(x.reg.ConfigSchema(name).ImpliedType())})
		x.mu.Lock()
		x.confErr[name] = err
		x.mu.Unlock()
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	return p, x.confErr[name]
}

// half is one host's part of a link, as recorded in the link's private
// data.
type half struct {
	Host    string          `json:"host"`
	Nodes   []string        `json:"nodes"`
	Private json.RawMessage `json:"private"`
}

// xprivate is a cross-host link's private data: its halves, each with the
// private data of its host's link provider, so that a later update or
// delete reaches the same hosts and bridges even when the lab changed.
type xprivate struct {
	Halves []half `json:"halves"`
}

// hostOf is the host of a node, looked up by its resource address: count
// and for_each instances of one block share its host.
func (x *Links) hostOf(node string) (string, error) {
	a, err := addr.ParseInstance(node)
	if err != nil {
		return "", err
	}
	ra := a.Type + "." + a.Name
	x.mu.Lock()
	defer x.mu.Unlock()
	h, ok := x.nodeHosts[ra]
	if !ok {
		return "", fmt.Errorf("cannot tell which host %s is on", node)
	}
	return h, nil
}

// underlay is a host's underlay address; the local machine's is the
// source address of its route to another host's.
func (x *Links) underlay(host, peer string) (string, error) {
	if host != "" {
		p, _ := x.reg.Provider(providers.HostedName("link", host))
		px, ok := p.(*Proxy)
		if !ok {
			return "", fmt.Errorf("no host %q is declared", host)
		}
		return px.host.Underlay, nil
	}
	routes, err := netlink.RouteGet(net.ParseIP(peer))
	if err != nil || len(routes) == 0 || routes[0].Src == nil {
		return "", fmt.Errorf("this machine has no route to the underlay address %s: %v", peer, err)
	}
	return routes[0].Src.String(), nil
}

// VNI is the VXLAN network identifier of the link with the given ID.
func VNI(id string) int {
	n, _ := strconv.ParseUint(id[:6], 16, 32)
	if n == 0 {
		n = 1
	}
	return int(n)
}

// plan splits a link's value into halves, one per host with ends on it.
func (x *Links) plan(id string, v cty.Value) ([]half, error) {
	byHost := map[string][]string{}
	for _, e := range v.GetAttr("endpoints").AsValueSlice() {
		node := e.GetAttr("node").AsString()
		h, err := x.hostOf(node)
		if err != nil {
			return nil, err
		}
		byHost[h] = append(byHost[h], node)
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	// Remote underlays first: the local one is found from them.
	under := map[string]string{}
	for _, h := range hosts {
		if h != "" {
			u, err := x.underlay(h, "")
			if err != nil {
				return nil, err
			}
			under[h] = u
		}
	}
	if _, ok := byHost[""]; ok {
		for _, h := range hosts {
			if h != "" {
				u, err := x.underlay("", under[h])
				if err != nil {
					return nil, err
				}
				under[""] = u
				break
			}
		}
	}
	var out []half
	for _, h := range hosts {
		t := &link.Tunnel{VNI: VNI(id), Local: under[h], Port: VXLANPort}
		for _, o := range hosts {
			if o != h {
				t.Remotes = append(t.Remotes, under[o])
			}
		}
		pv, _ := json.Marshal(map[string]any{"tunnel": t})
		out = append(out, half{Host: h, Nodes: byHost[h], Private: pv})
	}
	return out, nil
}

// sameEndpoints tells whether a link's ends are the same in both values.
func sameEndpoints(a, b cty.Value) bool {
	if a == cty.NilVal || b == cty.NilVal || a.IsNull() || b.IsNull() {
		return false
	}
	return a.GetAttr("endpoints").RawEquals(b.GetAttr("endpoints"))
}

// recable marks a half's tunnel: its nodes forget their neighbors.
func recable(priv json.RawMessage) json.RawMessage {
	var pv map[string]*link.Tunnel
	if json.Unmarshal(priv, &pv) != nil || pv["tunnel"] == nil {
		return priv
	}
	pv["tunnel"].Recable = true
	b, _ := json.Marshal(pv)
	return b
}

// only is v with the endpoints on nodes kept.
func only(v cty.Value, nodes []string) cty.Value {
	if v == cty.NilVal || v.IsNull() {
		return v
	}
	keep := map[string]bool{}
	for _, n := range nodes {
		keep[n] = true
	}
	m := v.AsValueMap()
	var eps []cty.Value
	for _, e := range v.GetAttr("endpoints").AsValueSlice() {
		if keep[e.GetAttr("node").AsString()] {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		m["endpoints"] = cty.ListValEmpty(providers.EndpointType)
	} else {
		m["endpoints"] = cty.ListVal(eps)
	}
	return cty.ObjectVal(m)
}

// decodePrivate reads what apply recorded. Data that does not decode
// reads as no halves, and a link with no halves reads as gone (merge), so
// that the next plan makes it again.
func decodePrivate(b []byte) xprivate {
	var pv xprivate
	json.Unmarshal(b, &pv)
	return pv
}

func (x *Links) Create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return x.apply(ctx, req, false)
}

func (x *Links) Update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return x.apply(ctx, req, true)
}

// apply makes every half, in parallel across hosts; halves of hosts that
// no longer hold ends of the link are deleted.
func (x *Links) apply(ctx context.Context, req providers.ApplyRequest, update bool) (providers.ApplyResponse, error) {
	halves, err := x.plan(x.lab.IDFor(req.ID, req.Addr), req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	prior := map[string]half{}
	if update {
		for _, h := range decodePrivate(req.Private).Halves {
			prior[h.Host] = h
		}
	}
	// The halves' hosts see none of the others' ports change: when a node
	// at an end is new (made anew by this apply, or the ends changed),
	// every half is told, and the nodes on it forget their neighbors.
	if update && (len(req.Renewed) > 0 || !sameEndpoints(req.Prior, req.Planned)) {
		for i := range halves {
			halves[i].Private = recable(halves[i].Private)
		}
	}
	errs := x.onHalves(halves, func(sub providers.Provider, h half) error {
		r := providers.ApplyRequest{Type: req.Type, Addr: req.Addr, ID: req.ID, Planned: only(req.Planned, h.Nodes), Private: h.Private, Cost: req.Cost}
		if p, ok := prior[h.Host]; ok {
			r.Prior = only(req.Prior, p.Nodes)
			_, err := sub.Update(ctx, r)
			return err
		}
		_, err := sub.Create(ctx, r)
		return err
	})
	keep := map[string]bool{}
	for _, h := range halves {
		keep[h.Host] = true
	}
	for _, p := range prior {
		if !keep[p.Host] {
			if sub, err := x.sub(p.Host); err == nil {
				errs = append(errs, sub.Delete(ctx, providers.ApplyRequest{Type: req.Type, Addr: req.Addr, ID: req.ID, Prior: only(req.Prior, p.Nodes), Private: p.Private}))
			}
		}
	}
	pv, _ := json.Marshal(xprivate{Halves: halves})
	if err := firstErr(errs); err != nil {
		return providers.ApplyResponse{}, err
	}
	return providers.ApplyResponse{State: req.Planned, Private: pv}, nil
}

// onHalves runs fn on every half with the provider of its host, in
// parallel across hosts (each host's agent does its own half, and a slow
// host must not hold the others up), and returns the errors in the
// halves' order.
func (x *Links) onHalves(halves []half, fn func(sub providers.Provider, h half) error) []error {
	errs := make([]error, len(halves))
	var wg sync.WaitGroup
	for i, h := range halves {
		wg.Add(1)
		go func(i int, h half) {
			defer wg.Done()
			sub, err := x.sub(h.Host)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = fn(sub, h)
		}(i, h)
	}
	wg.Wait()
	return errs
}

// firstErr is the first error of errs, in order, or nil.
func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes every recorded half, in parallel across hosts.
func (x *Links) Delete(ctx context.Context, req providers.ApplyRequest) error {
	return firstErr(x.onHalves(decodePrivate(req.Private).Halves, func(sub providers.Provider, h half) error {
		return sub.Delete(ctx, providers.ApplyRequest{Type: req.Type, Addr: req.Addr, ID: req.ID, Prior: only(req.Prior, h.Nodes),
			Private: h.Private, WholeLab: req.WholeLab})
	}))
}

func (x *Links) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	r, e := x.ReadMany(ctx, []providers.ReadRequest{req})
	return r[0], e[0]
}

// ReadMany reads every half with one batch per host, and puts each link
// together again: gone when any half is gone.
func (x *Links) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	type ref struct{ req, half int }
	byHost := map[string][]ref{}
	subReqs := map[string][]providers.ReadRequest{}
	pvs := make([]xprivate, len(reqs))
	for i, r := range reqs {
		pvs[i] = decodePrivate(r.Private)
		for j, h := range pvs[i].Halves {
			byHost[h.Host] = append(byHost[h.Host], ref{i, j})
			subReqs[h.Host] = append(subReqs[h.Host], providers.ReadRequest{Type: r.Type, Addr: r.Addr, ID: r.ID, Prior: only(r.Prior, h.Nodes), Private: h.Private})
		}
	}
	states := make([][]cty.Value, len(reqs))
	errs := make([]error, len(reqs))
	for i := range reqs {
		states[i] = make([]cty.Value, len(pvs[i].Halves))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for host, refs := range byHost {
		wg.Add(1)
		go func(host string, refs []ref) {
			defer wg.Done()
			var resps []providers.ReadResponse
			var es []error
			sub, err := x.sub(host)
			if err == nil {
				if br, ok := sub.(providers.BatchReader); ok {
					resps, es = br.ReadMany(ctx, subReqs[host])
				} else {
					for _, r := range subReqs[host] {
						resp, err := sub.Read(ctx, r)
						resps, es = append(resps, resp), append(es, err)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for k, rf := range refs {
				switch {
				case err != nil:
					errs[rf.req] = err
				case es[k] != nil:
					errs[rf.req] = es[k]
				default:
					states[rf.req][rf.half] = resps[k].State
				}
			}
		}(host, refs)
	}
	wg.Wait()
	resps := make([]providers.ReadResponse, len(reqs))
	for i, r := range reqs {
		if errs[i] != nil {
			continue
		}
		resps[i] = providers.ReadResponse{State: merge(r.Prior, pvs[i].Halves, states[i]), Private: r.Private}
	}
	return resps, errs
}

// merge puts a link's value together from its halves' values.
func merge(prior cty.Value, halves []half, states []cty.Value) cty.Value {
	if prior.IsNull() || len(halves) == 0 {
		return cty.NullVal(prior.Type())
	}
	present := map[string]bool{}
	m := prior.AsValueMap()
	for _, st := range states {
		if st == cty.NilVal || st.IsNull() {
			return cty.NullVal(prior.Type())
		}
		for _, e := range st.GetAttr("endpoints").AsValueSlice() {
			present[e.GetAttr("node").AsString()+"/"+e.GetAttr("port").AsBigFloat().String()] = true
		}
		for _, a := range []string{"mtu", "state", "impairment"} {
			if !st.GetAttr(a).RawEquals(prior.GetAttr(a)) {
				m[a] = st.GetAttr(a)
			}
		}
	}
	var eps []cty.Value
	for _, e := range prior.GetAttr("endpoints").AsValueSlice() {
		if present[e.GetAttr("node").AsString()+"/"+e.GetAttr("port").AsBigFloat().String()] {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		m["endpoints"] = cty.ListValEmpty(providers.EndpointType)
	} else {
		m["endpoints"] = cty.ListVal(eps)
	}
	return cty.ObjectVal(m)
}

// ValidateResource checks the link as a link, and that its mtu fits in
// the tunnel: the underlay's MTU less VXLAN's 50 bytes.
func (x *Links) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	errs := link.New().ValidateResource(typ, v)
	mtuV := v.GetAttr("mtu")
	if !mtuV.IsKnown() || mtuV.IsNull() || !v.GetAttr("endpoints").IsWhollyKnown() {
		return errs
	}
	mtu, _ := mtuV.AsBigFloat().Int64()
	for _, e := range v.GetAttr("endpoints").AsValueSlice() {
		h, err := x.hostOf(e.GetAttr("node").AsString())
		if err != nil || h == "" {
			continue
		}
		p, _ := x.reg.Provider(providers.HostedName("link", h))
		px, ok := p.(*Proxy)
		if !ok {
			continue
		}
		if max := px.host.UnderlayMTU - VXLANOverhead; int(mtu) > max {
			errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("mtu"), Summary: "MTU too large for a link across hosts",
				Detail: fmt.Sprintf("This link runs over VXLAN to host %s, whose underlay MTU is %d; VXLAN takes %d bytes of it, so the link's mtu is at most %d, not %d. Lower mtu, or raise the host's underlay_mtu if its network carries larger frames.",
					h, px.host.UnderlayMTU, VXLANOverhead, max, mtu)})
			break
		}
	}
	return errs
}

// CheckHost runs the link provider's host checks (netem) on every host
// the link reaches.
func (x *Links) CheckHost(typ string, v cty.Value) []*providers.AttrError {
	if !v.GetAttr("endpoints").IsWhollyKnown() {
		return nil
	}
	seen := map[string]bool{}
	var out []*providers.AttrError
	for _, e := range v.GetAttr("endpoints").AsValueSlice() {
		h, err := x.hostOf(e.GetAttr("node").AsString())
		if err != nil || seen[h] {
			continue
		}
		seen[h] = true
		p, ok := x.reg.Provider(providers.HostedName("link", h))
		if hc, isHC := p.(providers.HostChecker); ok && isHC {
			out = append(out, hc.CheckHost(typ, v)...)
		}
	}
	return out
}
