package netfilter

import (
	"context"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/planner"
)

const importedChain = `
firewall_chain "byhand" {
  target = lab
  hooks  = ["INPUT"]
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
}
`

// TestSystem_importChain adopts a chain made by hand with iptables: the
// plan imports it and shows how it differs from the configuration (its
// rule says port 23, the configuration 22), apply repairs that in place,
// the next plan is empty, and the other tool's rules are untouched. A
// chain whose ID does not match the configuration is refused with what
// was expected.
func TestSystem_importChain(t *testing.T) {
	l := newNFLab(t, "imp")
	sh(t, l.labNS, "iptables", "-N", "byhand")
	sh(t, l.labNS, "iptables", "-A", "byhand", "-p", "tcp", "--dport", "23", "-j", "ACCEPT")
	sh(t, l.labNS, "iptables", "-A", "INPUT", "-j", "byhand")

	// The ID must match the configuration.
	l.Write(importedChain)
	lab, diags := config.Load(l.Dir, l.Reg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	to, _ := addr.ParseInstance("firewall_chain.byhand")
	for id, want := range map[string]string{
		l.labNS + ":ipv4:filter:other":   `the chain is "other"`,
		l.labNS + ":ipv4:nat:byhand":     `the configuration says table = "filter"`,
		"lfnfnope:ipv4:filter:byhand":    "but target = lab puts it in " + l.labNS,
		l.labNS + ":ipv6:filter:byhand":  `the configuration says family = "ipv4"`,
		"byhand":                         "NETNS:FAMILY:TABLE:CHAIN",
		l.labNS + ":ipv4:filter:byhand2": `the chain is "byhand2"`,
	} {
		p := &planner.Planner{Registry: l.Reg, Store: l.Store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 4}
		_, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true,
			Imports: []planner.ImportSpec{{To: to, ID: id}}})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
			t.Errorf("import %s: want an error with %q, got %v", id, want, diags)
		}
	}

	l.Write(importedChain + `
import {
  to = firewall_chain.byhand
  id = "` + l.labNS + `:ipv4:filter:byhand"
}
`)
	_, plan := l.Plan(planner.NormalMode)
	if len(plan.Imports) != 1 {
		t.Fatalf("imports: %v", plan.Imports)
	}
	var change *planner.Change
	for _, c := range plan.Changes {
		if c.Addr == to {
			change = c
		}
	}
	if change == nil || change.Action != planner.Update || change.ImportedFrom == "" {
		t.Fatalf("the imported chain's change: %+v", change)
	}
	l.Apply(planner.NormalMode)
	rules := sh(t, l.labNS, "iptables", "-S", "byhand")
	if !strings.Contains(rules, "--dport 22") || strings.Contains(rules, "--dport 23") {
		t.Errorf("after apply the chain is:\n%s", rules)
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		for _, c := range plan.Changes {
			t.Logf("%s %s", c.Addr, c.Action)
		}
		t.Error("a plan after the import's apply has changes")
	}
	if other := sh(t, l.labNS, "iptables", "-S", "OTHER"); !strings.Contains(other, "192.0.2.7") {
		t.Errorf("the other tool's chain changed:\n%s", other)
	}
}
