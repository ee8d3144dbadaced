package link_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/planner/render"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/link"
	"github.com/labform/labform/providers/netfilter"
	"github.com/labform/labform/providers/qemu"
)

// liveLab is a running lab of every kind of object: 100 containers in a
// ring of 100 links, a firewall chain in each container, and 10 diskless
// QEMU VMs under TCG.
const liveLab = `
container "n" {
  count   = 100
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 2
}
link "l" {
  count     = 100
  endpoints = [container.n[count.index].port[1], container.n[(count.index + 1) % 100].port[0]]
}
firewall_chain "guard" {
  count  = 100
  target = container.n[count.index]
  hooks  = ["INPUT"]
  mode   = "allowlist"
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
  rule {
    protocol = "icmp"
    action   = "accept"
  }
}
vm "v" {
  count    = 10
  provider = qemu
  accel    = "tcg"
  memory   = 64
  console  = "telnet"
}
`

// BenchmarkNoChangePlanLiveLab: a no-change plan with refresh of
// liveLab, deployed once (outside the timer) at parallelism 10. Refresh
// reads each provider's objects in one batch: one runc list, one dump of
// the lab namespace, one iptables-save per container namespace (10 at a
// time), and QMP per VM. The target is 0.5 s.
func BenchmarkNoChangePlanLiveLab(b *testing.B) {
	systest.Require(b, "runc", "busybox", "ip", "iptables-save", "iptables-restore", "qemu-system-x86_64", "qemu-img")
	l := systest.NewLab(b, fmt.Sprintf("lflv%d", os.Getpid()%100000), container.New(), link.New(), netfilter.New(), qemu.New())
	systest.BusyboxRootfs(b, filepath.Join(l.Dir, "rootfs"), "sleep")
	b.Cleanup(func() {
		recs, _ := l.Store.Resources()
		l.DestroyQuietly()
		root := container.RuntimeRoot(l.LabID())
		systest.RemoveRuncRoot(root)
		for addr, rec := range recs {
			if strings.HasPrefix(addr, "container.") {
				labnet.DeleteNetns(labnet.ContainerNetns(rec.ID))
			}
		}
		labnet.DeleteNetns(labnet.LabNetns(l.Name))
	})
	l.Write(liveLab)
	p, plan := l.Plan(planner.NormalMode)
	p.Parallelism = 10
	start := time.Now()
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if diags.HasErrors() || res.Err() != nil {
		b.Fatal(diags, res.Err())
	}
	if want := 100 + 100 + 100 + 10; res.Added != want {
		b.Fatalf("added %d objects, want %d", res.Added, want)
	}
	deploy := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
			b.Fatalf("a no-change plan has changes:\n%s", render.Plan(plan, false))
		}
	}
	b.ReportMetric(deploy.Seconds(), "deploy-s")
}
