package netfilter

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/gctune"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers/labnet"
)

// bigChain is a lab with one ipv4 chain of n rules, hooked from FORWARD.
func bigChain(n, firstPort int) string {
	var b strings.Builder
	b.WriteString("firewall_chain \"big\" {\n  target = lab\n  hooks  = [\"FORWARD\"]\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  rule {\n    protocol = \"tcp\"\n    dport    = %d\n    action   = \"accept\"\n  }\n", firstPort+i)
	}
	b.WriteString("}\n")
	return b.String()
}

// BenchmarkApplyChain10k: labform's apply that replaces a chain of 10,000
// rules (every rule changes); plan and refresh are outside the timer.
// Compare with BenchmarkRawRestore10k (the floor) and
// BenchmarkIptablesAppend1000 (the naive way, a tenth of the rules).
//
// x-floor is the apply's time over a raw restore of the same chain made
// right after it (the machine's load changes both alike). CPU time, which
// the load does not inflate, is reported too: labform-cpu-s is the
// process's own per apply, tools-cpu-s that of the tools it ran, and
// raw-cpu-s that of the raw restore.
func BenchmarkApplyChain10k(b *testing.B) {
	gctune.Set() // the collector's settings of the CLI
	l := newNFLab(b, "ba")
	l.Write(bigChain(10000, 20000))
	l.Apply(planner.NormalMode)
	raw := newNFLab(b, "bb")
	var applied, floor, self, tools, rawCPU time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l.Write(bigChain(10000, 20001+i%2))
		p, plan := l.Plan(planner.NormalMode)
		runtime.GC()
		b.StartTimer()
		s0, c0 := cpuTimes(b)
		start := time.Now()
		res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
		applied += time.Since(start)
		s1, c1 := cpuTimes(b)
		self, tools = self+s1-s0, tools+c1-c0
		if diags.HasErrors() || res.Err() != nil {
			b.Fatal(diags, res.Err())
		}
		b.StopTimer()
		floor += rawRestore(b, raw.labNS, i)
		_, c2 := cpuTimes(b)
		rawCPU += c2 - c1
	}
	n := float64(b.N)
	b.ReportMetric(floor.Seconds()/n, "raw-restore-s")
	b.ReportMetric(applied.Seconds()/floor.Seconds(), "x-floor")
	b.ReportMetric(self.Seconds()/n, "labform-cpu-s")
	b.ReportMetric(tools.Seconds()/n, "tools-cpu-s")
	b.ReportMetric(rawCPU.Seconds()/n, "raw-cpu-s")
}

// cpuTimes is the CPU time (user and system) of this process and of the
// children it waited for.
func cpuTimes(b *testing.B) (self, children time.Duration) {
	var s, c syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &s); err != nil {
		b.Fatal(err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c); err != nil {
		b.Fatal(err)
	}
	d := func(u syscall.Rusage) time.Duration {
		return time.Duration(u.Utime.Nano() + u.Stime.Nano())
	}
	return d(s), d(c)
}

// rawRestore feeds a 10,000-rule chain straight to iptables-restore
// --noflush in ns (the first time declaring it and its jump) and times it.
func rawRestore(b *testing.B, ns string, i int) time.Duration {
	c := &Chain{Name: "big", Table: "filter", Families: []string{"ipv4"}, Hooks: []string{"FORWARD"}, Mode: "denylist"}
	for j := 0; j < 10000; j++ {
		c.Rules = append(c.Rules, Rule{Action: "accept", Protocol: "tcp", Dport: fmt.Sprint(20000 + i%2 + j)})
	}
	input := c.Restore("ipv4", 65535, ParseSave("*filter\n:big - [0:0]\n-A FORWARD -j big\nCOMMIT\n").Table("filter"))
	if i == 0 {
		input = c.Restore("ipv4", 65535, nil)
	}
	start := time.Now()
	if _, err := labnet.Output(context.Background(), ns, []byte(input), nil, "iptables-restore", "--noflush", "--wait"); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkRawRestore10k: the same restore input, fed straight to
// iptables-restore --noflush: one process, one transaction.
func BenchmarkRawRestore10k(b *testing.B) {
	l := newNFLab(b, "br")
	c := &Chain{Name: "big", Table: "filter", Families: []string{"ipv4"}, Hooks: []string{"FORWARD"}, Mode: "denylist"}
	for i := 0; i < 10000; i++ {
		c.Rules = append(c.Rules, Rule{Action: "accept", Protocol: "tcp", Dport: fmt.Sprint(20000 + i)})
	}
	first := c.Restore("ipv4", 65535, nil)
	again := c.Restore("ipv4", 65535, ParseSave("*filter\n:big - [0:0]\n-A FORWARD -j big\nCOMMIT\n").Table("filter"))
	for i := 0; i < b.N; i++ {
		input := again
		if i == 0 {
			input = first
		}
		if _, err := labnet.Output(context.Background(), l.labNS, []byte(input), nil, "iptables-restore", "--noflush", "--wait"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIptablesAppend1000: the naive way, one iptables -A per rule,
// for 1,000 rules (10,000 would take minutes).
func BenchmarkIptablesAppend1000(b *testing.B) {
	l := newNFLab(b, "bn")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sh(b, l.labNS, "iptables", "-N", "naive")
		b.StartTimer()
		for j := 0; j < 1000; j++ {
			sh(b, l.labNS, "iptables", "-A", "naive", "-p", "tcp", "--dport", fmt.Sprint(20000+j), "-j", "ACCEPT")
		}
		b.StopTimer()
		sh(b, l.labNS, "iptables", "-F", "naive")
		sh(b, l.labNS, "iptables", "-X", "naive")
		b.StartTimer()
	}
}

// BenchmarkRefresh100Chains: a no-change plan (with refresh) of 100
// chains of 20 rules in one namespace; refresh reads it with one
// iptables-save. Compare with BenchmarkRawSave100Chains.
func BenchmarkRefresh100Chains(b *testing.B) {
	l := newNFLab(b, "bf")
	l.Write(hundredChains())
	l.Apply(planner.NormalMode)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
			b.Fatal("a no-change plan has changes")
		}
	}
}

// BenchmarkRawSave100Chains: the one iptables-save that refresh needs.
func BenchmarkRawSave100Chains(b *testing.B) {
	l := newNFLab(b, "bs")
	l.Write(hundredChains())
	l.Apply(planner.NormalMode)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sh(b, l.labNS, "iptables-save")
	}
}

func hundredChains() string {
	var b strings.Builder
	for c := 0; c < 100; c++ {
		fmt.Fprintf(&b, "firewall_chain \"c%d\" {\n  target = lab\n  hooks  = [\"FORWARD\"]\n  mode   = \"allowlist\"\n", c)
		for r := 0; r < 20; r++ {
			fmt.Fprintf(&b, "  rule {\n    protocol = \"tcp\"\n    dport    = %d\n    action   = \"accept\"\n  }\n", 1000+c*20+r)
		}
		b.WriteString("}\n")
	}
	return b.String()
}
