package link_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/vishvananda/netlink"
)

var witnesses int

// witness puts a veth of the given group into the namespace ns whose peer
// lives in a namespace of the benchmark's; gone reports when the kernel
// has freed ns (the peer goes with it). It measures the kernel's work,
// which goes on after the namespace is unpinned. A doomed witness (which
// the lab's last object removes the namespace with) must be made after
// the providers are configured: their configure deletes doomed
// interfaces.
func witness(b testing.TB, ns string, group uint32) (gone func() bool) {
	b.Helper()
	witnesses++
	name := fmt.Sprintf("lfwb%d-%d", os.Getpid()%100000, witnesses)
	if err := labnet.CreateNetns(name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { labnet.DeleteNetns(name) })
	wh, wns, err := labnet.HandleIn(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { wh.Close(); wns.Close() })
	h, hns, err := labnet.HandleIn(ns)
	if err != nil {
		b.Fatal(err)
	}
	defer hns.Close()
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lfwit0", Group: group}, PeerName: "lfwit1", PeerNamespace: netlink.NsFd(int(wns))}); err != nil {
		b.Fatal(err)
	}
	return func() bool { _, err := wh.LinkByName("lfwit1"); return err != nil }
}

// waitGone polls gone for up to a minute and returns how long it took.
func waitGone(b testing.TB, start time.Time, gone func() bool) time.Duration {
	for !gone() {
		if time.Since(start) > time.Minute {
			b.Fatal("the namespace was not freed within a minute")
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// BenchmarkChain100 deploys N=100 containers chained by 99 links at
// parallelism 10, plans again with refresh (no-change-plan-s) and
// destroys them, the shape compared with containerlab.
// destroy-s is labform's destroy; kernel-done-s is until the kernel has
// freed the lab namespace (its interfaces go in batches after destroy
// returns). The floor is the network part alone, made by ip and tc
// -batch: the same 101 namespaces, veth pairs and wires, removed by
// deleting the namespaces, until the kernel is done (floor-kernel-done-s).
func BenchmarkChain100(b *testing.B) {
	requireTools(b, "runc", "busybox", "ip", "tc")
	const n = 100
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := newNetLab(b)
		var src strings.Builder
		fmt.Fprintf(&src, `
container "n" {
  count   = %d
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 2
}
link "l" {
  count     = %d
  endpoints = [container.n[count.index].port[1], container.n[count.index + 1].port[0]]
}
`, n, n-1)
		l.Write(src.String())
		p, plan := l.Plan(planner.NormalMode)
		p.Parallelism = 10
		start := time.Now()
		res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
		deploy := time.Since(start)
		if diags.HasErrors() || res.Err() != nil || res.Added != 2*n-1 {
			b.Fatalf("added %d: %v %v", res.Added, diags, res.Err())
		}
		// A no-change plan with refresh of the running lab.
		start = time.Now()
		_, same := l.Plan(planner.NormalMode)
		noChange := time.Since(start)
		if same.HasChanges() {
			b.Fatal("the plan right after apply has changes")
		}
		p, plan = l.Plan(planner.DestroyMode)
		p.Parallelism = 10
		gone := witness(b, providers.LabNetns(l.Name), labnet.DoomedGroup) // after the plan, whose configure reaps doomed interfaces
		b.StartTimer()
		start = time.Now()
		res, diags = p.Apply(context.Background(), plan, planner.ApplyOptions{})
		destroy := time.Since(start)
		b.StopTimer()
		kernel := waitGone(b, start, gone)
		if diags.HasErrors() || res.Err() != nil || res.Destroyed != 2*n-1 {
			b.Fatalf("destroyed %d: %v %v", res.Destroyed, diags, res.Err())
		}
		floor, floorDone := nsFloor(b, n)
		b.ReportMetric(deploy.Seconds(), "deploy-s")
		b.ReportMetric(noChange.Seconds(), "no-change-plan-s")
		b.ReportMetric(destroy.Seconds(), "destroy-s")
		b.ReportMetric(kernel.Seconds(), "kernel-done-s")
		b.ReportMetric(destroy.Seconds()/deploy.Seconds(), "x-deploy")
		b.ReportMetric(floor.Seconds(), "floor-ns-delete-s")
		b.ReportMetric(floorDone.Seconds(), "floor-kernel-done-s")
	}
}

// nsFloor builds the chain's network with ip and tc -batch (n namespaces
// each with two veth pairs into a lab namespace, n-1 wires there) and times
// deleting the n+1 namespaces, and until the kernel has freed them.
func nsFloor(b *testing.B, n int) (returned, done time.Duration) {
	lab := fmt.Sprintf("lffl%d", os.Getpid()%100000)
	var nss []string
	b.Cleanup(func() {
		for _, ns := range append(nss, lab) {
			labnet.DeleteNetns(ns)
		}
	})
	if err := labnet.CreateNetns(lab); err != nil {
		b.Fatal(err)
	}
	var cmds, wires strings.Builder
	for j := 0; j < n; j++ {
		ns := fmt.Sprintf("%s-%d", lab, j)
		if err := labnet.CreateNetns(ns); err != nil {
			b.Fatal(err)
		}
		nss = append(nss, ns)
		for k := 0; k < 2; k++ {
			fmt.Fprintf(&cmds, "link add p%d-%d type veth peer name eth%d netns %s\n", j, k, k, ns)
		}
		if j > 0 {
			for _, ab := range [][2]string{{fmt.Sprintf("p%d-1", j-1), fmt.Sprintf("p%d-0", j)}, {fmt.Sprintf("p%d-0", j), fmt.Sprintf("p%d-1", j-1)}} {
				fmt.Fprintf(&wires, "qdisc add dev %s clsact\nfilter add dev %s ingress pref 1 u32 match u32 0 0 action mirred egress redirect dev %s\n", ab[0], ab[0], ab[1])
			}
		}
	}
	ipBatch(b, lab, cmds.String())
	toolBatch(b, "tc", lab, wires.String())
	gone := witness(b, lab, 0)
	start := time.Now()
	for _, ns := range append(nss, lab) {
		if err := labnet.DeleteNetns(ns); err != nil {
			b.Fatal(err)
		}
	}
	returned = time.Since(start)
	return returned, waitGone(b, start, gone)
}
