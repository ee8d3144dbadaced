package planner

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// The management network's addresses (see providers/mgmt.go).
//
// A node's management address is the one the lab writes (mgmt_address,
// mgmt_address6), else the one state records for it, else the lowest free
// one of the subnet. Recorded addresses are kept: adding or removing a
// node never moves another node's address, and a node keeps its address
// over a replacement or a restart. A recorded address is given up only
// when it left the subnet (the subnet changed) or another node now writes
// it. New nodes are numbered in address order (container.a before
// container.b, host[2] before host[10]), so a new lab gets addresses in
// the order a reader expects. The planner chooses, not the providers: the
// whole lab is needed to choose, the plan shows the choice, and state
// keeps it.

var managementAddr = addr.Resource{Type: providers.ManagementType, Name: providers.ManagementName}.Instance(addr.Key{})

// managementAttrs are a node's management attributes, IPv4 first.
var managementAttrs = [2]string{"mgmt_address", "mgmt_address6"}

// managementSubnets are the lab's management subnets (invalid prefixes
// where the lab has none, or one ValidateResource refuses).
func managementSubnets(d *config.Desired) (inst *config.Instance, subnets [2]netip.Prefix) {
	inst = d.Instances[managementAddr]
	if inst == nil || !inst.Value.IsKnown() || inst.Value.IsNull() {
		return nil, subnets
	}
	for i, name := range []string{"subnet", "subnet6"} {
		if s := providers.String(inst.Value, name); s != "" {
			subnets[i], _ = providers.ManagementSubnet(s, i == 1)
		}
	}
	return inst, subnets
}

func isNode(a addr.Instance) bool {
	for _, t := range config.ManagementNodeTypes {
		if a.Type == t {
			return true
		}
	}
	return false
}

// hasManagementAttrs reports whether inst's schema has the management
// attributes (test providers' nodes may not).
func hasManagementAttrs(inst *config.Instance) bool {
	return isNode(inst.Addr) && inst.Resource.Schema.Attributes[managementAttrs[0]] != nil
}

// written is the management address the lab writes for inst's family i
// (invalid when none is written or it is not known yet).
func written(inst *config.Instance, i int) (netip.Addr, bool) {
	if _, ok := inst.Resource.Content.Attrs[managementAttrs[i]]; !ok {
		return netip.Addr{}, false
	}
	v := inst.Value.GetAttr(managementAttrs[i])
	if !v.IsKnown() || v.IsNull() {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(v.AsString())
	return a, err == nil
}

// checkManagement checks the management addresses a lab writes: each is
// an address of the management subnet of its family, usable by a node,
// and no two nodes write the same.
func checkManagement(d *config.Desired) hcl.Diagnostics {
	var diags hcl.Diagnostics
	mi, subnets := managementSubnets(d)
	seen := map[netip.Addr]addr.Instance{}
	for _, a := range d.Order {
		inst := d.Instances[a]
		if !hasManagementAttrs(inst) {
			continue
		}
		for i, name := range managementAttrs {
			at, ok := inst.Resource.Content.Attrs[name]
			if !ok {
				continue
			}
			v := inst.Value.GetAttr(name)
			if !v.IsKnown() || v.IsNull() {
				continue
			}
			fail := func(summary, format string, args ...any) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
					Detail: fmt.Sprintf("%s: ", a) + fmt.Sprintf(format, args...), Subject: at.Expr.Range().Ptr()})
			}
			subnet := [2]string{"subnet", "subnet6"}[i]
			if mi == nil {
				fail("Management address without a management network",
					"%s is set, but the lab has no management network. Add one to the lab block: lab { management { %s = \"...\" } }, or remove %s.", name, subnet, name)
				continue
			}
			if !subnets[i].IsValid() {
				if providers.String(mi.Value, subnet) == "" {
					fail("Management address without a subnet", "%s is set, but the management block has no %s.", name, subnet)
				}
				continue
			}
			ip, err := netip.ParseAddr(v.AsString())
			if err != nil || ip.Is6() != (i == 1) || ip.Zone() != "" {
				fail("Invalid management address", "%q is not an IPv%d address (%s takes one without a prefix length, such as %s).",
					v.AsString(), [2]int{4, 6}[i], name, providers.ManagementHostAddress(subnets[i]).Next())
				continue
			}
			if !providers.ManagementUsable(subnets[i], ip) {
				why := "is outside the management " + subnet + " " + subnets[i].String()
				switch {
				case ip == providers.ManagementHostAddress(subnets[i]):
					why = "is the host's address on the management network (the subnet's first)"
				case subnets[i].Contains(ip):
					why = "is the subnet's network or broadcast address"
				}
				fail("Invalid management address", "%s %s; a node takes another address of %s.", ip, why, subnets[i])
				continue
			}
			if other, dup := seen[ip]; dup {
				fail("Duplicate management address", "%s is also %s's management address; each node needs its own.", ip, other)
				continue
			}
			seen[ip] = a
		}
	}
	return diags
}

// assignManagement gives every node of d its management addresses and
// the management network its bridge, host addresses and hosts list. prior
// gives an object's recorded value (null when none); leaving are the
// recorded values of nodes that are no longer in the configuration: their
// addresses are not handed out by this plan, since the new node would
// come up while the old one, still being deleted, answers to the same
// address (a later plan may give them out again). Without a management
// network, the nodes' management addresses are null.
func (p *Planner) assignManagement(d *config.Desired, prior func(addr.Instance) cty.Value, leaving []leavingNode) hcl.Diagnostics {
	var diags hcl.Diagnostics
	mi, subnets := managementSubnets(d)
	if mi == nil {
		return nil // config made every node's management addresses null
	}
	var nodes []*config.Instance
	for _, a := range d.Order {
		if inst := d.Instances[a]; hasManagementAttrs(inst) {
			nodes = append(nodes, inst)
			// A written address labform learns only at apply (another
			// node's mgmt_address, which this pass assigns after config
			// is evaluated) could not be checked against the others:
			// two nodes would get one address.
			for _, name := range managementAttrs {
				if at, ok := inst.Resource.Content.Attrs[name]; ok && !inst.Value.GetAttr(name).IsKnown() {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Management address not known at plan",
						Detail:  fmt.Sprintf("%s: %s refers to a value known only after apply (another node's management address is assigned by labform, not known to expressions at plan). Write an address, or leave %s out to have one assigned.", a, name, name),
						Subject: at.Expr.Range().Ptr()})
				}
			}
		}
	}
	if diags.HasErrors() {
		return diags
	}
	assigned := make([][2]netip.Addr, len(nodes))
	for fam := 0; fam < 2; fam++ {
		subnet := subnets[fam]
		if !subnet.IsValid() {
			continue
		}
		taken := map[netip.Addr]bool{providers.ManagementHostAddress(subnet): true}
		var held []string // the nodes leaving with an address of the subnet
		for _, l := range leaving {
			v := l.value
			if v != cty.NilVal && !v.IsNull() && v.IsKnown() && v.Type().IsObjectType() && v.Type().HasAttribute(managementAttrs[fam]) {
				if ip, err := netip.ParseAddr(providers.String(v, managementAttrs[fam])); err == nil {
					taken[ip] = true
					if subnet.Contains(ip) {
						held = append(held, l.addr.String())
					}
				}
			}
		}
		sort.Strings(held)
		for i, inst := range nodes {
			if ip, ok := written(inst, fam); ok {
				assigned[i][fam] = ip
				taken[ip] = true
			}
		}
		// Recorded addresses stay where they are.
		for i, inst := range nodes {
			if _, ok := inst.Resource.Content.Attrs[managementAttrs[fam]]; ok || assigned[i][fam].IsValid() {
				continue
			}
			pv := prior(inst.Addr)
			if pv == cty.NilVal || pv.IsNull() || !pv.Type().IsObjectType() || !pv.Type().HasAttribute(managementAttrs[fam]) {
				continue
			}
			ip, err := netip.ParseAddr(providers.String(pv, managementAttrs[fam]))
			if err != nil || taken[ip] || !providers.ManagementUsable(subnet, ip) {
				continue
			}
			assigned[i][fam] = ip
			taken[ip] = true
		}
		// New nodes get the lowest free addresses, in address order.
		next := providers.ManagementHostAddress(subnet)
		for i, inst := range nodes {
			if _, ok := inst.Resource.Content.Attrs[managementAttrs[fam]]; ok || assigned[i][fam].IsValid() {
				continue
			}
			for next = next.Next(); next.IsValid() && subnet.Contains(next) && taken[next]; next = next.Next() {
			}
			if !next.IsValid() || !providers.ManagementUsable(subnet, next) {
				name := [2]string{"subnet", "subnet6"}[fam]
				detail := fmt.Sprintf("%s has no free address left for %s (the lab has %d nodes). Choose a larger %s.", subnet, inst.Addr, len(nodes), name)
				if len(held) > 0 {
					// A rename: the old nodes still hold their addresses
					// until this plan's apply deletes them.
					list := held
					if len(list) > 3 {
						list = append(list[:3:3], "...")
					}
					detail = fmt.Sprintf("%s has no free address left for %s (the lab has %d nodes): %d of its addresses are still held by nodes this plan removes (%s), and a plan does not hand out an address it frees. Apply the removal first (remove or rename the nodes in one apply, add the new ones in the next), or choose a larger %s.",
						subnet, inst.Addr, len(nodes), len(held), strings.Join(list, ", "), name)
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Management subnet full",
					Detail:  detail,
					Subject: config.RangeOf(mi.Resource, cty.GetAttrPath(name)).Ptr()})
				return diags
			}
			assigned[i][fam] = next
			taken[next] = true
		}
	}
	// The nodes' values, rebuilt on every core: most of this pass's time
	// on a large lab.
	par.For(len(nodes), func(i int) {
		inst := nodes[i]
		m := inst.Value.AsValueMap()
		for fam, name := range managementAttrs {
			if assigned[i][fam].IsValid() {
				m[name] = cty.StringVal(assigned[i][fam].String())
			} else if _, ok := inst.Resource.Content.Attrs[name]; !ok {
				// No subnet of this family: no address (one the lab
				// writes anyway is refused by checkManagement).
				m[name] = cty.NullVal(cty.String)
			}
		}
		inst.Value = cty.ObjectVal(m)
	})
	hosts := map[string]cty.Value{}
	used := map[string]bool{}
	for i, inst := range nodes {
		var list []string
		for fam := range managementAttrs {
			if assigned[i][fam].IsValid() {
				list = append(list, assigned[i][fam].String())
			}
		}
		if len(list) == 0 {
			continue
		}
		// Each node by the name of its address (leaf-0), and a container
		// also by its hostname; a name two nodes would share is given to
		// the first only, the other keeps its type-qualified name.
		names := []string{providers.ManagementHostsName(inst.Addr.String())}
		if used[names[0]] {
			names[0] = providers.ManagementHostsName(strings.Replace(inst.Addr.String(), ".", "-", 1))
		}
		if inst.Value.Type().HasAttribute("hostname") {
			if h := inst.Value.GetAttr("hostname"); h.IsKnown() && !h.IsNull() && providers.ManagementHostname(h.AsString()) {
				names = append(names, h.AsString())
			}
		}
		for _, n := range names {
			if n == "" || used[n] || n == "localhost" {
				continue
			}
			used[n] = true
			hosts[n] = cty.StringVal(strings.Join(list, " "))
		}
	}
	m := mi.Value.AsValueMap()
	m["bridge"] = cty.StringVal(providers.ManagementBridge(p.labID()))
	for fam, name := range []string{"host_address", "host_address6"} {
		m[name] = cty.NullVal(cty.String)
		if subnets[fam].IsValid() {
			m[name] = cty.StringVal(providers.ManagementHostAddress(subnets[fam]).String())
		}
	}
	m["hosts"] = cty.MapValEmpty(cty.String)
	if len(hosts) > 0 {
		m["hosts"] = cty.MapVal(hosts)
	}
	mi.Value = cty.ObjectVal(m)
	return diags
}

// keepManagementValues sets the management network's computed attributes
// in a change that would leave them unknown (a replacement): the planner
// chose them, the provider cannot.
func keepManagementValues(d *config.Desired, cs []*Change) {
	mi := d.Instances[managementAddr]
	if mi == nil {
		return
	}
	for _, c := range cs {
		if c.Addr != managementAddr || c.Deposed || c.After == cty.NilVal || c.After.IsNull() || !c.After.IsKnown() {
			continue
		}
		m := c.After.AsValueMap()
		for _, name := range []string{"bridge", "host_address", "host_address6", "hosts"} {
			m[name] = mi.Value.GetAttr(name)
		}
		c.After = cty.ObjectVal(m)
	}
}

// settleManagement gives the objects refresh found without a record (a
// lab whose state was lost) the management addresses just assigned, where
// their provider could not read them (a VM's address lives in its guest):
// otherwise an unknown address would differ from every planned one, and
// the plan would restart them for nothing.
func settleManagement(d *config.Desired, current func(addr.Instance) (cty.Value, bool), set func(addr.Instance, cty.Value)) {
	for _, a := range d.Order {
		inst := d.Instances[a]
		if !hasManagementAttrs(inst) {
			continue
		}
		v, ok := current(a)
		if !ok || v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(managementAttrs[0]) {
			continue
		}
		m := v.AsValueMap()
		changed := false
		for _, name := range managementAttrs {
			if !m[name].IsKnown() {
				m[name] = inst.Value.GetAttr(name)
				changed = true
			}
		}
		if changed {
			set(a, cty.ObjectVal(m))
		}
	}
}

// relengthManagement makes a node whose management address stays while
// its subnet's length changes (a /24 made a /25, same network address)
// show the length its interface has now ("172.30.0.2/24"), so that the
// plan sets the new one in place: otherwise the address is unchanged, no
// change is planned, and the node keeps the old length. Only nodes whose
// address labform sets in place (containers' mgmt0) are concerned: a VM's
// guest sets its own. recorded is the management network's recorded
// value (NilVal when none).
func relengthManagement(d *config.Desired, recorded cty.Value, current func(addr.Instance) (cty.Value, bool), set func(addr.Instance, cty.Value)) {
	_, subnets := managementSubnets(d)
	if recorded == cty.NilVal || recorded.IsNull() || !recorded.IsKnown() {
		return
	}
	var old [2]netip.Prefix
	changed := false
	for i, name := range []string{"subnet", "subnet6"} {
		if s := providers.String(recorded, name); s != "" && subnets[i].IsValid() {
			if p, err := providers.ManagementSubnet(s, i == 1); err == nil && p.Bits() != subnets[i].Bits() {
				old[i], changed = p, true
			}
		}
	}
	if !changed {
		return
	}
	for _, a := range d.Order {
		inst := d.Instances[a]
		if !hasManagementAttrs(inst) || inst.Resource.Schema.Attributes[managementAttrs[0]].Cost != providers.InPlace {
			continue
		}
		v, ok := current(a)
		if !ok || v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(managementAttrs[0]) {
			continue
		}
		m := v.AsValueMap()
		touched := false
		for fam, name := range managementAttrs {
			if !old[fam].IsValid() || !m[name].IsKnown() || m[name].IsNull() {
				continue
			}
			ip, err := netip.ParseAddr(m[name].AsString())
			if err != nil || !old[fam].Contains(ip) || providers.String(inst.Value, name) != ip.String() {
				continue // drift already shown, or the address moves anyway
			}
			m[name] = cty.StringVal(netip.PrefixFrom(ip, old[fam].Bits()).String())
			touched = true
		}
		if touched {
			set(a, cty.ObjectVal(m))
		}
	}
}

// leavingNode is a node that is no longer in the configuration, with its
// recorded value.
type leavingNode struct {
	addr  addr.Instance
	value cty.Value
}

// leavingValues are the recorded values of the objects that are no longer
// in the configuration.
func leavingValues(d *config.Desired, priors map[addr.Instance]*prior) []leavingNode {
	var out []leavingNode
	for a, pr := range priors {
		if d.Instances[a] != nil || !isNode(a) {
			continue
		}
		if pr.value != cty.NilVal && !pr.value.IsNull() {
			out = append(out, leavingNode{a, pr.value})
		} else if pr.current != cty.NilVal {
			out = append(out, leavingNode{a, pr.current})
		}
	}
	return out
}
