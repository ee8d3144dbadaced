package link

import (
	"slices"
	"sync"

	"github.com/labform/labform/providers"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
)

// Provider serves link resources in the lab's namespace, joining the
// lab-side ends of their endpoints' ports: a link of two ports is a wire
// (wire.go), one of more a bridge.
type Provider struct {
	lab providers.Lab

	netemOnce sync.Once
	netemErr  error // why netem cannot be used here; nil when it can

	mirredOnce sync.Once
	mirredErr  error // why links cannot be wires here (wire.go); nil when they can

	portMu sync.Mutex
	ports  map[string]*sync.Mutex // by port interface name (lockPorts)

	hmu  sync.Mutex
	h    *netlink.Handle // in the lab namespace
	hino uint64          // of that namespace, to notice a new one
}

var (
	_ providers.Provider     = (*Provider)(nil)
	_ providers.BatchReader  = (*Provider)(nil)
	_ providers.Validator    = (*Provider)(nil)
	_ providers.LabValidator = (*Provider)(nil)
	_ providers.HostChecker  = (*Provider)(nil)
)

// New returns the link provider.
func New() *Provider { return &Provider{} }

// lockPorts locks the ports of eps, in name order so that two links
// locking overlapping sets never wait on each other in a circle, and
// returns the unlock.
func (p *Provider) lockPorts(eps []endpoint) func() {
	names := make([]string, 0, len(eps))
	for _, e := range eps {
		names = append(names, p.portName(e))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	p.portMu.Lock()
	if p.ports == nil {
		p.ports = map[string]*sync.Mutex{}
	}
	mus := make([]*sync.Mutex, len(names))
	for i, n := range names {
		if p.ports[n] == nil {
			p.ports[n] = &sync.Mutex{}
		}
		mus[i] = p.ports[n]
	}
	p.portMu.Unlock()
	for _, m := range mus {
		m.Lock()
	}
	return func() {
		for _, m := range mus {
			m.Unlock()
		}
	}
}

func (p *Provider) Name() string                   { return "link" }
func (p *Provider) ConfigSchema() *providers.Block { return &providers.Block{} }

// Schemas says which attributes a link change can make in place. Every
// attribute is InPlace: a link's ports, MTU, state and qdiscs all change
// without rebuilding it (a wire becomes a bridge, and back, in place), so
// no change of a link ever restarts the nodes at its ends.
func (p *Provider) Schemas() map[string]*providers.Schema {
	return map[string]*providers.Schema{"link": {
		Block: providers.Block{
			Attributes: map[string]*providers.Attribute{
				"endpoints": providers.Required(cty.List(providers.EndpointType), providers.InPlace, "the ports joined: two for a wire, more for a segment"),
				"mtu":       providers.OptionalDefault(cty.NumberIntVal(1500), providers.InPlace, "the MTU of the link's interfaces"),
				"state":     providers.OptionalDefault(cty.StringVal("up"), providers.InPlace, "up or down").OneOf("up", "down"),
			},
			Blocks: map[string]*providers.NestedBlock{
				"impairment": {Nesting: providers.NestingSingle, Cost: providers.InPlace, Block: &providers.Block{
					Attributes: map[string]*providers.Attribute{
						"delay":     providers.Optional(cty.String, providers.InPlace, "one-way delay, e.g. 5ms (netem)"),
						"jitter":    providers.Optional(cty.String, providers.InPlace, "delay variation (netem)"),
						"loss":      providers.Optional(cty.String, providers.InPlace, "packet loss, e.g. 0.1% (netem)"),
						"duplicate": providers.Optional(cty.String, providers.InPlace, "duplication rate (netem)"),
						"corrupt":   providers.Optional(cty.String, providers.InPlace, "corruption rate (netem)"),
						"rate":      providers.Optional(cty.String, providers.InPlace, "bandwidth, e.g. 8mbit (tbf)"),
					}}},
			},
		},
		Description: "a wire or segment between ports",
	}}
}
