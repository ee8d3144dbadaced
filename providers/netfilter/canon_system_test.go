package netfilter

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers/labnet"
)

// everyForm is a chain with every kind of rule labform renders, and every
// ICMP type name savedForm knows, in both families.
func everyForm(mode string, hooks ...string) *Chain {
	uid := uint32(1000)
	c := &Chain{Name: "forms", Table: "filter", Families: []string{"ipv4", "ipv6"}, Hooks: hooks, Mode: mode,
		UIDs: []uint32{12345}, Interfaces: []string{"eth0", "veth+"}}
	c.Rules = []Rule{
		{Action: "accept", Protocol: "tcp", Dport: "80", Source: "10.0.0.1", Comment: "web"},
		{Action: "accept", Protocol: "tcp", Sport: "1000-2000", Dport: "443", Destination: "10.1.2.3/24", InInterface: "eth0", OutInterface: "veth+"},
		{Action: "accept", Protocol: "udp", Dport: "53", Comment: "dns server (udp) a-b_c.d,e:f;g/h=i+j@k#n"},
		{Action: "drop", Protocol: "sctp", Sport: "5"},
		{Action: "accept", Protocol: "icmp", ICMPType: "8"},
		{Action: "accept", Protocol: "icmp", ICMPType: "3/3"},
		{Action: "accept", Protocol: "icmpv6", ICMPType: "128"},
		{Action: "return", Protocol: "esp"},
		{Action: "return", Protocol: "ah"},
		{Action: "reject", Protocol: "gre"},
		{Action: "drop", Protocol: "all"},
		{Action: "accept", CtState: []string{"established", "new", "related"}},
		{Action: "drop", CtState: []string{"untracked", "invalid"}},
		{Action: "accept", UIDOwner: &uid, Protocol: "udp"},
		{Action: "reject"},
		{Action: "jump", Jump: "forms_next", Protocol: "tcp", Comment: "more"},
		{Action: "accept", Source: "fd00::1", Destination: "fd00:0:0:0::5/64"},
		{Action: "drop", Source: "2001:db8:0:0:1:0:0:1", Protocol: "tcp", Dport: "22"},
		{Action: "accept", Source: "10.9.8.7/32"},
	}
	for name := range icmpTypes {
		c.Rules = append(c.Rules, Rule{Action: "accept", Protocol: "icmp", ICMPType: name})
	}
	for name := range icmpv6Types {
		c.Rules = append(c.Rules, Rule{Action: "accept", Protocol: "icmpv6", ICMPType: name})
	}
	return c
}

// TestSystem_savedFormPredicted restores chains with every form labform
// renders, through both iptables backends (nf_tables and legacy) in both
// families, and checks that savedForm predicts, line for line, what
// iptables-save prints back: apply stores the prediction instead of
// reading the chain back, and the next refresh compares the live chain
// with it.
func TestSystem_savedFormPredicted(t *testing.T) {
	tools := map[string][2]string{}
	var need []string
	for _, backend := range []string{"nft", "legacy"} {
		for _, fam := range []struct{ name, cmd string }{{"ipv4", "iptables"}, {"ipv6", "ip6tables"}} {
			tools[backend+" "+fam.name] = [2]string{fam.cmd + "-" + backend + "-restore", fam.cmd + "-" + backend + "-save"}
			need = append(need, fam.cmd+"-"+backend+"-restore", fam.cmd+"-"+backend+"-save")
		}
	}
	systest.Require(t, append(need, "ip")...)
	chains := []*Chain{everyForm("allowlist", "OUTPUT"), everyForm("denylist", "OUTPUT"), everyForm("allowlist", "FORWARD", "INPUT")}
	for _, c := range chains[2:] {
		c.UIDs = nil
		for i := range c.Rules {
			c.Rules[i].UIDOwner = nil
		}
	}
	for _, backend := range []string{"nft", "legacy"} {
		for _, family := range []string{"ipv4", "ipv6"} {
			for ci, c := range chains {
				t.Run(fmt.Sprintf("%s/%s/%s-%s", backend, family, c.Mode, strings.Join(c.Hooks, "+")), func(t *testing.T) {
					ns := fmt.Sprintf("lfnfp%d%s%s%d", os.Getpid()%100000, backend[:1], family[3:], ci)
					sh(t, "", "ip", "netns", "add", ns)
					t.Cleanup(func() { labnet.DeleteNetns(ns) })
					tool := tools[backend+" "+family]
					if _, err := labnet.Output(context.Background(), ns, []byte(c.Restore(family, 65535, nil)), nil, tool[0], "--noflush"); err != nil {
						t.Fatal(err)
					}
					live := ParseSave(sh(t, ns, tool[1], "-t", "filter")).Table("filter").Chains[c.Name]
					body := c.Body(family, 65535)
					if len(live) != len(body) {
						t.Fatalf("%d rules written, %s shows %d:\n%s", len(body), tool[1], len(live), strings.Join(live, "\n"))
					}
					for i, l := range body {
						rule := strings.TrimPrefix(l, "-A "+c.Name+" ")
						got, ok := savedForm(rule, family)
						if !ok {
							t.Errorf("savedForm cannot predict %q", rule)
							continue
						}
						if got != live[i] {
							t.Errorf("written: %s\n  predicted: %s\n  %s shows: %s", rule, got, tool[1], live[i])
						}
					}
				})
			}
		}
	}
}

// TestSavedFormUnsure: what savedForm cannot be sure of makes apply read
// the chain back instead.
func TestSavedFormUnsure(t *testing.T) {
	for _, c := range []struct{ rule, family string }{
		{"-p ospf -j DROP", "ipv4"},
		{"-p 89 -j DROP", "ipv4"},
		{"-p udplite -j DROP", "ipv4"},
		{"-p icmp --icmp-type ping -j ACCEPT", "ipv4"},
		{"-p icmp --icmp-type 08 -j ACCEPT", "ipv4"},
		{"-p icmpv6 --icmpv6-type neighbor-solicitation -j ACCEPT", "ipv6"},
		{"-s ::ffff:10.0.0.1 -j ACCEPT", "ipv6"},
		{"-m mark --mark 1 -j ACCEPT", "ipv4"},
		{"-j ACCEPT -j DROP", "ipv4"},
	} {
		if got, ok := savedForm(c.rule, c.family); ok {
			t.Errorf("savedForm(%q, %s) = %q: want it unsure", c.rule, c.family, got)
		}
	}
}

// TestSystem_updateTrustsRestore: an update of a chain writes each family
// with one iptables-restore and reads nothing back (the jumps were counted
// by the plan's refresh, the rules it wrote are predicted); a rule changed
// by hand after that apply is still found by the next plan, and a jump
// deleted by hand between the plan and the apply makes the apply read the
// table and get it right.
func TestSystem_updateTrustsRestore(t *testing.T) {
	l := newNFLab(t, "u")
	calls := map[string]int{}
	run := l.prov.run
	l.prov.run = func(ctx context.Context, ns string, stdin io.Reader, name string, args ...string) ([]byte, error) {
		l.mu.Lock()
		calls[name]++
		l.mu.Unlock()
		return run(ctx, ns, stdin, name, args...)
	}
	chain := func(port int, hooks string) string {
		return fmt.Sprintf(`
firewall_chain "web" {
  target = lab
  family = "both"
  hooks  = [%s]
  rule {
    protocol = "tcp"
    dport    = %d
    source   = "10.231.0.0/24"
    action   = "accept"
    comment  = "web server"
  }
  rule {
    protocol = "icmpv6"
    icmp_type = "echo-request"
    action   = "accept"
  }
  rule {
    action = "reject"
  }
}
`, hooks, port)
	}
	l.Write(chain(80, `"INPUT"`))
	l.Apply(planner.NormalMode)
	l.Write(chain(8080, `"INPUT", "FORWARD"`))
	p, plan := l.Plan(planner.NormalMode)
	for k := range calls {
		delete(calls, k)
	}
	if res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{}); diags.HasErrors() || res.Err() != nil {
		t.Fatal(diags, res.Err())
	}
	if calls["iptables-save"]+calls["ip6tables-save"] != 0 || calls["iptables-restore"] != 1 || calls["ip6tables-restore"] != 1 {
		t.Errorf("the update ran %v: want one restore per family and no save", calls)
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Fatalf("a plan right after the update has changes:\n%s", render.Plan(plan, false))
	}
	sh(t, l.labNS, "iptables", "-R", "web", "4", "-s", "10.231.0.0/24", "-p", "tcp", "--dport", "8081", "-j", "ACCEPT")
	_, plan = l.Plan(planner.NormalMode)
	if out := render.Plan(plan, false); !plan.HasChanges() || !strings.Contains(out, `"8081"`) {
		t.Fatalf("a rule changed by hand after the update: the plan does not show it:\n%s", out)
	}
	l.Apply(planner.NormalMode)

	// Between plan and apply a jump goes by hand; the plan (made before)
	// removes that hook: the restore that trusts the counted jumps fails,
	// and the apply reads the table and removes what is left.
	l.Write(chain(8080, `"INPUT"`))
	p, plan = l.Plan(planner.NormalMode)
	sh(t, l.labNS, "iptables", "-D", "FORWARD", "-j", "web")
	if res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{}); diags.HasErrors() || res.Err() != nil {
		t.Fatal(diags, res.Err())
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Fatalf("not converged:\n%s", render.Plan(plan, false))
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		got := sh(t, l.labNS, tool, "-t", "filter")
		if strings.Count(got, "-A INPUT -j web") != 1 || strings.Contains(got, "-A FORWARD -j web") {
			t.Errorf("%s: want one jump from INPUT and none from FORWARD:\n%s", tool, got)
		}
	}
}
