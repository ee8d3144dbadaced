package planner_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
)

// genLab writes the benchmark lab: for scale 1, 2,500 VMs, 2,500
// containers, 4,000 links and 1,000 firewall chains of 20 rules each
// (10,000 instances), with count and references between them.
func genLab(scale float64) string {
	n := int(2500 * scale)
	ring := n
	access := int(1500 * scale)
	chains := int(1000 * scale)
	var b strings.Builder
	fmt.Fprintf(&b, `variable "n" {
  type    = number
  default = %d
}

vm "node" {
  count    = var.n
  memory   = 256
  cpus     = 1
  adapters = 4
  image    = "images/router.qcow2"
  console  = "telnet"
}

container "host" {
  count    = var.n
  rootfs   = "rootfs"
  command  = ["sleep", "infinity"]
  hostname = "h${count.index}"
  ports    = 2
  addresses = {
    eth1 = ["10.${floor(count.index / 250)}.${count.index %% 250}.2/24"]
  }
  routes = {
    default = "10.${floor(count.index / 250)}.${count.index %% 250}.1"
  }
  resources {
    memory = "64MiB"
    pids   = 64
  }
}

link "ring" {
  count     = %d
  endpoints = [vm.node[count.index].port[0], vm.node[(count.index + 1) %% var.n].port[1]]
}

link "access" {
  count     = %d
  endpoints = [vm.node[count.index].port[2], container.host[count.index].port[1]]
  mtu       = 1400
}

firewall_chain "fw" {
  count  = %d
  target = container.host[count.index]
  hooks  = ["INPUT"]
  mode   = "allowlist"
`, n, ring, access, chains)
	for r := 0; r < 20; r++ {
		fmt.Fprintf(&b, `  rule {
    protocol = "tcp"
    source   = "10.${count.index %% 200}.%d.0/24"
    dport    = %d
    action   = "accept"
    comment  = "rule %d"
  }
`, r, 1000+r, r)
	}
	b.WriteString("}\n")
	return b.String()
}

func peakRSSMiB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

func BenchmarkValidate10k(b *testing.B) {
	e := newEnv(b, map[string]string{"main.lab.hcl": genLab(1)})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lab, diags := config.Load(e.dir, e.reg)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		d, diags := config.Evaluate(lab, config.NewInputs(), nil)
		if diags.HasErrors() || len(d.Order) != 10000 {
			b.Fatalf("%d instances, %v", len(d.Order), diags)
		}
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

func BenchmarkPlanEmptyState10k(b *testing.B) {
	e := newEnv(b, map[string]string{"main.lab.hcl": genLab(1)})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, plan := e.plan(planner.PlanOptions{Refresh: false})
		if add, _, _ := plan.Counts(); add != 10000 {
			b.Fatalf("%d to add", add)
		}
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

func BenchmarkPlanNoChange10k(b *testing.B) {
	e := newEnv(b, map[string]string{"main.lab.hcl": genLab(1)})
	e.apply(planner.PlanOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, plan := e.plan(planner.PlanOptions{Refresh: true})
		if plan.HasChanges() {
			b.Fatal("a no-change plan has changes")
		}
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

func benchApply(b *testing.B, scale float64, want int) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, map[string]string{"main.lab.hcl": genLab(scale)})
		p, plan := e.plan(planner.PlanOptions{})
		p.Parallelism = 10
		b.StartTimer()
		res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
		if diags.HasErrors() || res.Err() != nil || res.Added != want {
			b.Fatalf("added %d of %d: %v %v", res.Added, want, diags, res.Err())
		}
		b.StopTimer()
		m, _ := e.store.Meta()
		b.ReportMetric(float64(m.Serial), "state-txns")
		e.store.Close()
	}
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

func BenchmarkApply2100(b *testing.B) { benchApply(b, 0.21, 2100) }
func BenchmarkApply10k(b *testing.B)  { benchApply(b, 1, 10000) }

// BenchmarkApply2100Delay5ms gives every provider action 5 ms (slept in
// two halves). With parallelism 10 the floor is 2,100 actions x the
// measured action time / 10; "x-floor" says how close apply comes to it
// (1.0: bound by parallelism alone, nothing else on the critical path).
func BenchmarkApply2100Delay5ms(b *testing.B) {
	const delay = 5 * time.Millisecond
	// Sleeps overshoot on this VM (2.5 ms takes about 3.2 ms): measure.
	start := time.Now()
	for i := 0; i < 100; i++ {
		time.Sleep(delay / 2)
	}
	action := 2 * time.Since(start) / 100
	floor := time.Duration(2100/10) * action
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, map[string]string{"main.lab.hcl": genLab(0.21)})
		for _, m := range e.mem {
			m.Delay = delay
		}
		p, plan := e.plan(planner.PlanOptions{})
		p.Parallelism = 10
		b.StartTimer()
		start := time.Now()
		res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
		elapsed := time.Since(start)
		b.StopTimer()
		if diags.HasErrors() || res.Err() != nil || res.Added != 2100 {
			b.Fatalf("added %d: %v %v", res.Added, diags, res.Err())
		}
		b.ReportMetric(elapsed.Seconds()/floor.Seconds(), "x-floor")
		b.ReportMetric(floor.Seconds(), "floor-s")
		e.store.Close()
	}
}
