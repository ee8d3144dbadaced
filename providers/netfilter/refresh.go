package netfilter

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// readOne compares one chain, in each of its families, with what the last
// apply wrote, and returns the prior value when nothing changed. Drift
// shows as a value the plan can diff: a rule inserted, deleted or changed
// by hand appears in the rule list (where the plan diffs it rule by rule),
// a missing jump drops its hook from hooks, and a change to the lines the
// mode makes, or a family's chain deleted, is written next to the mode.
// A chain deleted in every family is gone: the plan creates it again.
//
// cookie is the namespace's (netnsCookie): with the jumps counted here it
// lets the next apply skip reading the table.
func (p *Provider) readOne(req providers.ReadRequest, live map[string]*Table, cookie uint64) providers.ReadResponse {
	prior := req.Prior
	c, errs := ParseChain(nameOf(req.Addr), prior)
	if len(errs) > 0 {
		return providers.ReadResponse{State: prior, Private: req.Private}
	}
	var priv private
	if len(req.Private) > 0 {
		json.Unmarshal(req.Private, &priv) // unreadable: compare with the rendered rules
	}
	var notes []string
	exists := false
	var drifted []item
	driftFam := ""
	present := map[string]bool{}
	for _, h := range c.Hooks {
		present[h] = true
	}
	recount := priv.Netns != cookie // jumps counted elsewhere, or differently
	priv.Netns = cookie
	for _, fam := range c.Families {
		t := live[fam]
		if a, ok := priv.Families[fam]; ok {
			jumps := map[string]int{}
			for _, h := range builtins[c.Table] {
				jumps[h] = t.Jumps(h, c.Name)
			}
			if !maps.Equal(jumps, a.Jumps) {
				a.Jumps = jumps
				priv.Families[fam], recount = a, true
			}
		}
		for _, h := range c.Hooks {
			present[h] = present[h] && t.Jumps(h, c.Name) > 0
		}
		lines, ok := t.Chains[c.Name]
		if !ok {
			notes = append(notes, fam+" chain deleted by hand")
			continue
		}
		exists = true
		exp, ok := priv.Families[fam]
		if !ok {
			l, o := c.body(fam, p.maxUID)
			for i := range l {
				l[i] = strings.TrimPrefix(l[i], "-A "+c.Name+" ")
			}
			exp = applied{Lines: l, Origin: o}
		}
		items, fixedOK := match(lines, exp)
		if !fixedOK {
			notes = append(notes, fam+" rules of the mode changed by hand")
		}
		if !sameRules(items, exp.Origin) && driftFam == "" {
			drifted, driftFam = items, fam
		}
	}
	if !exists {
		return providers.ReadResponse{State: cty.NullVal(prior.Type())}
	}
	private := req.Private
	if recount && len(priv.Families) > 0 {
		// The next apply computes its restore input from these counts.
		if b, err := json.Marshal(priv); err == nil {
			private = b
		}
	}
	hooksOK := true
	for _, h := range c.Hooks {
		hooksOK = hooksOK && present[h]
	}
	if len(notes) == 0 && driftFam == "" && hooksOK {
		return providers.ReadResponse{State: prior, Private: private}
	}
	m := prior.AsValueMap()
	if len(notes) > 0 {
		m["mode"] = cty.StringVal(fmt.Sprintf("%s (%s)", c.Mode, strings.Join(notes, "; ")))
	}
	if !hooksOK {
		var hooks []cty.Value
		for _, h := range c.Hooks {
			if present[h] {
				hooks = append(hooks, cty.StringVal(h))
			}
		}
		m["hooks"] = cty.ListValEmpty(cty.String)
		if len(hooks) > 0 {
			m["hooks"] = cty.ListVal(hooks)
		}
	}
	if driftFam != "" {
		m["rule"] = liveRules(c, prior.GetAttr("rule"), drifted, driftFam)
	}
	return providers.ReadResponse{State: cty.ObjectVal(m), Private: private}
}

// item is one live rule of a chain: a rule block of the last apply
// (rule >= 0) or one labform did not write (foreign).
type item struct {
	rule    int
	foreign Rule
}

// match pairs the live lines with what was applied, line for line. fixedOK
// says whether the lines the mode makes are all there, in order.
func match(lines []string, exp applied) (items []item, fixedOK bool) {
	avail := map[string][]int{}
	for i, l := range exp.Lines {
		avail[l] = append(avail[l], i)
	}
	var fixedSeen []int
	for _, l := range lines {
		if q := avail[l]; len(q) > 0 {
			pos := q[0]
			avail[l] = q[1:]
			if exp.Origin[pos] == fixed {
				fixedSeen = append(fixedSeen, pos)
			} else {
				items = append(items, item{rule: exp.Origin[pos]})
			}
			continue
		}
		items = append(items, item{rule: -1, foreign: parseRule(l)})
	}
	var want []int
	for i, o := range exp.Origin {
		if o == fixed {
			want = append(want, i)
		}
	}
	if len(want) != len(fixedSeen) {
		return items, false
	}
	for i := range want {
		if want[i] != fixedSeen[i] {
			return items, false
		}
	}
	return items, true
}

// sameRules reports whether the live rules are the applied ones, in order.
func sameRules(items []item, origin []int) bool {
	var want []int
	for _, o := range origin {
		if o != fixed {
			want = append(want, o)
		}
	}
	if len(items) != len(want) {
		return false
	}
	for i, it := range items {
		if it.rule != want[i] {
			return false
		}
	}
	return true
}

// liveRules is the rule list as one family's chain has it. Rule blocks
// that this family leaves out (an address of the other family) keep their
// place, so that they do not read as drift.
func liveRules(c *Chain, prior cty.Value, items []item, fam string) cty.Value {
	pr := prior.AsValueSlice()
	et := prior.Type().ElementType()
	var out []cty.Value
	emitted := map[int]bool{}
	skipped := func(j int) bool { _, ok := c.Rules[j].render(fam); return !ok }
	next := 0
	for _, it := range items {
		if it.rule < 0 {
			out = append(out, ruleValue(it.foreign, et))
			continue
		}
		for ; next < it.rule; next++ {
			if skipped(next) && !emitted[next] {
				out, emitted[next] = append(out, pr[next]), true
			}
		}
		out, emitted[it.rule] = append(out, pr[it.rule]), true
		if it.rule+1 > next {
			next = it.rule + 1
		}
	}
	for j := range pr {
		if skipped(j) && !emitted[j] {
			out = append(out, pr[j])
		}
	}
	if len(out) == 0 {
		return cty.ListValEmpty(et)
	}
	return cty.ListVal(out)
}

// ruleValue is a rule as a value of the rule block's type.
func ruleValue(r Rule, t cty.Type) cty.Value {
	s := func(v string) cty.Value {
		if v == "" {
			return cty.NullVal(cty.String)
		}
		return cty.StringVal(v)
	}
	m := map[string]cty.Value{
		"action": s(r.Action), "jump": s(r.Jump), "protocol": s(r.Protocol), "source": s(r.Source),
		"destination": s(r.Destination), "sport": s(r.Sport), "dport": s(r.Dport),
		"in_interface": s(r.InInterface), "out_interface": s(r.OutInterface), "icmp_type": s(r.ICMPType),
		"comment": s(r.Comment), "uid_owner": cty.NullVal(cty.Number), "ct_state": cty.NullVal(cty.List(cty.String)),
	}
	if r.UIDOwner != nil {
		m["uid_owner"] = cty.NumberUIntVal(uint64(*r.UIDOwner))
	}
	if len(r.CtState) > 0 {
		var l []cty.Value
		for _, st := range r.CtState {
			l = append(l, cty.StringVal(st))
		}
		m["ct_state"] = cty.ListVal(l)
	}
	for name := range m {
		if !t.HasAttribute(name) {
			delete(m, name)
		}
	}
	return cty.ObjectVal(m)
}
