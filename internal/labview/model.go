package labview

import (
	"fmt"
	"sort"
	"strings"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// Object states that are not a provider's own run state.
const (
	// NotCreated: in the configuration, not (yet) applied.
	NotCreated = "not created"
	// Gone: in state, but refresh found no object (deleted outside labform).
	Gone = "gone"
)

// Lab is the model both views draw: every node, link and firewall chain,
// sorted by address.
type Lab struct {
	Name   string  `json:"lab"`
	Nodes  []*Node `json:"nodes"`
	Links  []*Link `json:"links"`
	Chains []Chain `json:"firewall_chains,omitempty"`
}

// Node is a VM or a container.
type Node struct {
	Address  string `json:"address"`
	Type     string `json:"type"` // vm, container
	Provider string `json:"provider"`
	// State is the run state (running, paused, stopped), or NotCreated,
	// or Gone.
	State string `json:"state"`
	// Drifted is set when the live value differs from the recorded one.
	Drifted bool   `json:"drifted,omitempty"`
	Pid     int    `json:"pid,omitempty"`
	Image   string `json:"image,omitempty"`
	// MgmtAddress is the node's management address, when its provider
	// gives it one.
	MgmtAddress string             `json:"mgmt_address,omitempty"`
	Ports       []*Port            `json:"ports"`
	Console     *providers.Console `json:"console,omitempty"`
	// Host is where the node lives on the host (namespace, runc id and
	// root, run directory, log).
	Host providers.Description `json:"host"`
	// Chains are the firewall chains in the node's namespace.
	Chains []string `json:"firewall_chains,omitempty"`
}

// Port is one of a node's ports.
type Port struct {
	Index int `json:"index"`
	// Inside is the interface's name inside the node (eth0), Host the
	// lab-side interface's in the lab namespace.
	Inside    string   `json:"inside"`
	Host      string   `json:"host"`
	Addresses []string `json:"addresses,omitempty"`
	// Link is the link the port is on ("" when none), Peers the ports it
	// reaches over it.
	Link  string     `json:"link,omitempty"`
	Peers []Endpoint `json:"peers,omitempty"`
}

// Endpoint is a node's port, named both ways.
type Endpoint struct {
	Node      string `json:"node"`
	Port      int    `json:"port"`
	Interface string `json:"interface,omitempty"`
}

func (e Endpoint) String() string {
	if e.Interface != "" {
		return e.Node + " " + e.Interface
	}
	return fmt.Sprintf("%s port %d", e.Node, e.Port)
}

// Link is a wire (two members) or a segment (more).
type Link struct {
	Address    string     `json:"address"`
	State      string     `json:"state"` // up, down, NotCreated, Gone
	Drifted    bool       `json:"drifted,omitempty"`
	Members    []Endpoint `json:"members"`
	Impairment string     `json:"impairment,omitempty"`
	MTU        int        `json:"mtu,omitempty"`
	// Bridge is the link's bridge in the lab namespace.
	Bridge string `json:"bridge,omitempty"`
}

// Segment tells whether the link joins more than two ports.
func (l *Link) Segment() bool { return len(l.Members) > 2 }

// Chain is a firewall chain and where it is hooked.
type Chain struct {
	Address string   `json:"address"`
	Target  string   `json:"target"` // a node's address, or lab
	Mode    string   `json:"mode,omitempty"`
	Hooks   []string `json:"hooks,omitempty"`
	Rules   int      `json:"rules"`
	State   string   `json:"state"`
}

// Input is what Build draws from.
type Input struct {
	// Lab names the lab and gives the IDs that host names derive from;
	// LabOf gives it as each provider sees it (its WorkDir).
	Lab      providers.Lab
	LabOf    func(provider string) providers.Lab
	Registry *providers.Registry
	// Live are the objects in state as a refresh found them (nil for a
	// picture of the configuration alone).
	Live []planner.LiveObject
	// Desired is the evaluated configuration (nil when it did not
	// evaluate): what it holds that is not in Live is NotCreated.
	Desired *config.Desired
	// PreferDesired draws an object's configured value even when it runs
	// (the topology as written); otherwise the live value wins (status).
	PreferDesired bool
}

type object struct {
	addr      addr.Instance
	typ, prov string
	id        string
	value     cty.Value
	private   []byte
	state     string
	drifted   bool
	sensitive []cty.Path
	// configOnly: in the configuration, not in state (no ID, no host
	// names yet).
	configOnly bool
}

// Build makes the model.
func Build(in Input) *Lab {
	objs := map[addr.Instance]*object{}
	for _, o := range in.Live {
		ob := &object{addr: o.Addr, typ: o.Type, prov: o.Provider, id: o.ID, value: o.Value, private: o.Private,
			drifted: o.Drifted, sensitive: o.Sensitive}
		if o.Value.IsNull() {
			ob.state, ob.value = Gone, o.Recorded
		}
		objs[o.Addr] = ob
	}
	if in.Desired != nil {
		for _, a := range in.Desired.Order {
			inst := in.Desired.Instances[a]
			if ob, ok := objs[a]; ok {
				if in.PreferDesired {
					ob.value = inst.Value
				}
				continue
			}
			ob := &object{addr: a, typ: a.Type, prov: inst.Resource.Provider, value: inst.Value, state: NotCreated,
				sensitive: inst.SensitivePaths, configOnly: true}
			if in.PreferDesired {
				ob.state = "" // the picture of the configuration: its own state
			}
			objs[a] = ob
		}
	}
	var addrs []addr.Instance
	for a := range objs {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })

	lab := &Lab{Name: in.Lab.Name, Nodes: []*Node{}, Links: []*Link{}}
	nodes := map[string]*Node{}
	for _, a := range addrs {
		ob := objs[a]
		schema, err := in.Registry.Schema(ob.prov, ob.typ)
		if err != nil || ob.value == cty.NilVal || ob.value.IsNull() {
			continue
		}
		switch {
		case schema.PortsAttr != "":
			n := node(in, ob)
			lab.Nodes = append(lab.Nodes, n)
			nodes[n.Address] = n
		case ob.typ == "link":
			lab.Links = append(lab.Links, link(in, ob))
		case ob.typ == "firewall_chain":
			lab.Chains = append(lab.Chains, chain(ob))
		}
	}
	// Ports learn their links and peers; members learn interface names.
	for _, l := range lab.Links {
		for i, m := range l.Members {
			if n := nodes[m.Node]; n != nil && m.Port < len(n.Ports) {
				l.Members[i].Interface = n.Ports[m.Port].Inside
			}
		}
		for _, m := range l.Members {
			n := nodes[m.Node]
			if n == nil || m.Port >= len(n.Ports) {
				continue
			}
			p := n.Ports[m.Port]
			p.Link = l.Address
			for _, o := range l.Members {
				if o != m {
					p.Peers = append(p.Peers, o)
				}
			}
		}
	}
	for _, c := range lab.Chains {
		if n := nodes[c.Target]; n != nil {
			n.Chains = append(n.Chains, c.Address)
		}
	}
	return lab
}

func describe(in Input, ob *object) providers.Description {
	prov, ok := in.Registry.Provider(ob.prov)
	if !ok {
		return providers.Description{}
	}
	d, ok := prov.(providers.Describer)
	if !ok {
		return providers.Description{}
	}
	lab := in.Lab
	if in.LabOf != nil {
		lab = in.LabOf(ob.prov)
	}
	return d.Describe(providers.DescribeRequest{Lab: lab, Type: ob.typ, Addr: ob.addr.String(), ID: ob.id, Value: ob.value, Private: ob.private})
}

func node(in Input, ob *object) *Node {
	v := ob.value
	n := &Node{Address: ob.addr.String(), Type: ob.typ, Provider: ob.prov, State: ob.state, Drifted: ob.drifted, Ports: []*Port{}}
	if n.State == "" {
		n.State = str(v, "state")
	}
	live := !ob.configOnly && ob.state != Gone
	if live {
		n.Pid = int(number(v, "pid"))
	}
	n.MgmtAddress = str(v, "mgmt_address")
	if sensitive(ob.sensitive, "mgmt_address") && n.MgmtAddress != "" {
		n.MgmtAddress = "(sensitive)"
	}
	d := describe(in, ob)
	n.Image = d.Image
	if in.Lab.Dir != "" && strings.HasPrefix(n.Image, in.Lab.Dir+"/") {
		n.Image = strings.TrimPrefix(n.Image, in.Lab.Dir+"/") // as the lab writes it
	}
	if sensitive(ob.sensitive, "image") || sensitive(ob.sensitive, "rootfs") {
		n.Image = "(sensitive)"
	}
	if live {
		n.Console = d.Console
	}
	addrs := map[string][]string{}
	if a := attr(v, "addresses"); a.IsKnown() && !a.IsNull() && (a.Type().IsMapType() || a.Type().IsObjectType()) && !sensitive(ob.sensitive, "addresses") {
		for k, l := range a.AsValueMap() {
			if l.IsKnown() && !l.IsNull() {
				for _, x := range l.AsValueSlice() {
					if x.IsKnown() && !x.IsNull() {
						addrs[k] = append(addrs[k], x.AsString())
					}
				}
			}
		}
	}
	for _, p := range d.Ports {
		if ob.configOnly {
			p.Host = "" // no ID yet: no host names
		}
		n.Ports = append(n.Ports, &Port{Index: p.Index, Inside: p.Inside, Host: p.Host, Addresses: addrs[p.Inside]})
	}
	d.Ports, d.Console, d.Image = nil, nil, ""
	if ob.configOnly {
		d = providers.Description{} // no ID yet: no host names
	}
	n.Host = d
	return n
}

func link(in Input, ob *object) *Link {
	v := ob.value
	l := &Link{Address: ob.addr.String(), State: ob.state, Drifted: ob.drifted, Members: []Endpoint{}, MTU: int(number(v, "mtu"))}
	if l.State == "" {
		l.State = str(v, "state")
	}
	if e := attr(v, "endpoints"); e.IsKnown() && !e.IsNull() {
		for _, x := range e.AsValueSlice() {
			if !x.IsWhollyKnown() {
				continue
			}
			p, _ := x.GetAttr("port").AsBigFloat().Int64()
			l.Members = append(l.Members, Endpoint{Node: x.GetAttr("node").AsString(), Port: int(p)})
		}
	}
	l.Impairment = impairment(attr(v, "impairment"))
	if !ob.configOnly {
		l.Bridge = describe(in, ob).Bridge
	}
	return l
}

// impairment says what a link's impairment block sets: "rate=100mbit
// delay=5ms", in the schema's order.
func impairment(v cty.Value) string {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || !v.Type().IsObjectType() {
		return ""
	}
	var parts []string
	for _, k := range []string{"rate", "delay", "jitter", "loss", "duplicate", "corrupt"} {
		if s := str(v, k); s != "" {
			parts = append(parts, k+"="+s)
		}
	}
	return strings.Join(parts, " ")
}

func chain(ob *object) Chain {
	v := ob.value
	c := Chain{Address: ob.addr.String(), Target: str(v, "target"), Mode: str(v, "mode"), State: ob.state}
	if c.State == "" && !ob.configOnly {
		c.State = "applied"
	}
	if h := attr(v, "hooks"); h.IsKnown() && !h.IsNull() {
		for _, x := range h.AsValueSlice() {
			if x.IsKnown() && !x.IsNull() {
				c.Hooks = append(c.Hooks, x.AsString())
			}
		}
	}
	if r := attr(v, "rule"); r.IsKnown() && !r.IsNull() && r.CanIterateElements() {
		c.Rules = r.LengthInt()
	}
	return c
}

// attr is v's attribute name, or a null value when v has none (a
// provider's schema without it: mgmt_address, image).
func attr(v cty.Value, name string) cty.Value {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return v.GetAttr(name)
}

func str(v cty.Value, name string) string {
	a := attr(v, name)
	if !a.IsKnown() || a.IsNull() || a.Type() != cty.String {
		return ""
	}
	return a.AsString()
}

func number(v cty.Value, name string) float64 {
	a := attr(v, name)
	if !a.IsKnown() || a.IsNull() || a.Type() != cty.Number {
		return 0
	}
	f, _ := a.AsBigFloat().Float64()
	return f
}

// sensitive tells whether any sensitive path starts at attribute name.
func sensitive(paths []cty.Path, name string) bool {
	for _, p := range paths {
		if len(p) > 0 {
			if ga, ok := p[0].(cty.GetAttrStep); ok && ga.Name == name {
				return true
			}
		}
	}
	return false
}
