package planner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/gctune"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/all"
	"github.com/labform/labform/state"
)

// genUnrolled writes the unrolled lab shape, one block per resource, as a
// lab written by hand or by a generator: n nodes (even: a QEMU VM, odd: a
// container), n links (link i joins node i and, for even i, node i+1, for
// odd i the node half the ring away; each takes the next free port on
// each side) and n/10 firewall chains of 20 rules on containers:
// 2.1·n resources.
func genUnrolled(n int) string {
	peer := func(i int) int {
		if i%2 == 0 {
			return (i + 1) % n
		}
		return (i + n/2 + 1) % n
	}
	deg := make([]int, n)
	for i := 0; i < n; i++ {
		deg[i]++
		deg[peer(i)]++
	}
	kind := func(i int) string {
		if i%2 == 0 {
			return "vm"
		}
		return "container"
	}
	actions := []string{"accept", "drop", "reject", "accept"}
	protos := []string{"tcp", "udp", "icmp", "tcp", "tcp"}
	var b strings.Builder
	b.WriteString("lab {\n  name = \"unrolled\"\n}\n\n")
	for i := 0; i < n; i++ {
		ports := max(deg[i], 1)
		if i%2 == 0 {
			fmt.Fprintf(&b, "vm \"n%d\" {\n  provider     = qemu\n  memory       = 2048\n  cpus         = %d\n  adapters     = %d\n  adapter_type = \"virtio-net-pci\"\n  console      = \"telnet\"\n}\n\n", i, 1+i%4, ports)
		} else {
			fmt.Fprintf(&b, "container \"n%d\" {\n  rootfs   = \"rootfs\"\n  command  = [\"sleep\", \"infinity\"]\n  hostname = \"node-%d\"\n  ports    = %d\n  resources {\n    memory = \"2048MiB\"\n  }\n}\n\n", i, i, ports)
		}
	}
	next := make([]int, n)
	for i := 0; i < n; i++ {
		a, c := i, peer(i)
		fmt.Fprintf(&b, "link \"l%d\" {\n  endpoints = [%s.n%d.port[%d], %s.n%d.port[%d]]\n}\n\n", i, kind(a), a, next[a], kind(c), c, next[c])
		next[a]++
		next[c]++
	}
	for k := 0; k < n/10; k++ {
		fmt.Fprintf(&b, "firewall_chain \"c%d\" {\n  target = container.n%d\n  hooks  = [\"OUTPUT\"]\n  mode   = \"denylist\"\n", k, k*10+1)
		for r := 0; r < 20; r++ {
			fmt.Fprintf(&b, "  rule {\n    action   = %q\n    protocol = %q\n", actions[r%4], protos[r%5])
			if protos[r%5] != "icmp" {
				fmt.Fprintf(&b, "    dport    = %d\n", 1000+r*7)
			}
			fmt.Fprintf(&b, "    source   = \"10.%d.0.0/16\"\n    comment  = \"rule %d\"\n  }\n", r, r)
		}
		b.WriteString("}\n\n")
	}
	return b.String()
}

// unrolledLab writes the unrolled lab of n nodes into a directory of its
// own, with the real providers' registry (as the CLI has).
func unrolledLab(b *testing.B, n int) (string, *providers.Registry) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(genUnrolled(n)), 0o644); err != nil {
		b.Fatal(err)
	}
	reg := providers.NewRegistry()
	for _, p := range all.Providers() {
		reg.Register(p)
	}
	return dir, reg
}

// validateUnrolled is `labform validate`: load, evaluate with unknown
// variables allowed, and the providers' checks.
func validateUnrolled(b *testing.B, dir string, reg *providers.Registry, want int) {
	lab, diags := config.Load(dir, reg)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	in := config.NewInputs()
	in.Unknowns = true
	d, diags := config.Evaluate(lab, in, nil)
	if diags.HasErrors() || len(d.Order) != want {
		b.Fatalf("%d instances, %v", len(d.Order), diags)
	}
	if diags := planner.Validate(reg, d); diags.HasErrors() {
		b.Fatal(diags)
	}
}

// planUnrolled is `labform plan -refresh=false` on an empty state.
func planUnrolled(b *testing.B, dir string, reg *providers.Registry, want int) {
	store, err := state.Open(filepath.Join(dir, ".labform", "state.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	lab, diags := config.Load(dir, reg)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	p := &planner.Planner{Registry: reg, Store: store, Lab: lab, Inputs: config.NewInputs()}
	plan, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	if add, _, _ := plan.Counts(); add != want {
		b.Fatalf("%d to add, want %d", add, want)
	}
}

// BenchmarkUnrolledValidate validates the unrolled lab of 5,000 nodes
// (10,500 resources); linearity is the time per resource at 20,000
// nodes (42,000 resources) over that at 5,000 (1.0: linear).
func BenchmarkUnrolledValidate(b *testing.B) {
	benchUnrolled(b, validateUnrolled)
}

// BenchmarkUnrolledPlan is plan -refresh=false on an empty state of the
// same lab, with the same linearity check.
func BenchmarkUnrolledPlan(b *testing.B) {
	benchUnrolled(b, planUnrolled)
}

// benchUnrolled runs step with the collector tuned as the CLI tunes it.
// The peak RSS is the highest of the 10,500-resource runs, each measured
// from a reset of the process's peak, as one CLI run would see it.
func benchUnrolled(b *testing.B, step func(*testing.B, string, *providers.Registry, int)) {
	gogc, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(gogc)
	gctune.Set()
	defer func() { debug.SetGCPercent(gogc); debug.SetMemoryLimit(limit) }()
	dir, reg := unrolledLab(b, 5000)
	big, bigReg := unrolledLab(b, 20000)
	b.ResetTimer()
	var small, large time.Duration
	var cpu, rss float64
	for i := 0; i < b.N; i++ {
		// Each run as the CLI's: the garbage of the last run freed and
		// the process's peak RSS reset before it.
		b.StopTimer()
		resetPeakRSS()
		b.StartTimer()
		cpu0, start := cpuSeconds(), time.Now()
		step(b, dir, reg, 10500)
		small += time.Since(start)
		cpu += cpuSeconds() - cpu0
		rss = max(rss, peakRSSSinceReset(b))
	}
	b.StopTimer()
	cpu /= float64(b.N)
	runtime.GC()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		step(b, big, bigReg, 42000)
		large += time.Since(start)
	}
	b.ReportMetric(rss, "peak-RSS-MiB")
	b.ReportMetric(cpu, "cpu-s") // user and system time: on a loaded machine, the wall time is not the work
	b.ReportMetric((large.Seconds()/42000)/(small.Seconds()/10500), "linearity-42k")
}

// cpuSeconds is the process's user and system time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// resetPeakRSS frees what earlier runs left and resets the kernel's peak
// RSS of the process (VmHWM; clear_refs 5).
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSSinceReset reads VmHWM from /proc/self/status, in MiB.
func peakRSSSinceReset(b *testing.B) float64 {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
