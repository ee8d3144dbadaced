package link_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/memprovider"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/link"
	"github.com/labform/labform/state"
)

// BenchmarkLinks1000 creates 1,000 links of two ports (wires) in one
// apply and deletes them. The nodes are in memory (this measures links,
// not containers): their 2,000 lab-side port interfaces are made
// beforehand with ip -batch, as the container provider would have.
//
// Two deletes are measured. partial-delete-s destroys 100 of the links
// with -target: their redirects are gone when the destroy returns.
// delete-s destroys the rest with the whole lab: the first link's delete
// removes the lab namespace and the kernel deletes the ports with it;
// kernel-done-s is until the kernel has freed that namespace. The floors
// are tc -batch making the same wires (tc-batch-create-s), unmaking 100
// of them (tc-batch-delete-100-s), and deleting the namespace holding
// them until the kernel is done (ns-delete-kernel-done-s).
func BenchmarkLinks1000(b *testing.B) {
	requireTools(b, "ip", "tc")
	const n = 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		name := fmt.Sprintf("lflb%d", os.Getpid()%100000)
		netns := providers.LabNetns(name)
		reg := providers.NewRegistry()
		reg.Register(memprovider.Wrap(container.New()))
		reg.Register(link.New())
		os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(fmt.Sprintf(`lab {
  name = %q
}
container "n" {
  count  = %d
  rootfs = "rootfs"
}
link "l" {
  count     = %d
  endpoints = [container.n[count.index * 2].port[0], container.n[count.index * 2 + 1].port[0]]
}
`, name, 2*n, n)), 0o644)
		exec.Command("ip", "netns", "add", netns).Run()
		b.Cleanup(func() { exec.Command("ip", "netns", "del", netns).Run() })
		var ports strings.Builder
		for j := 0; j < 2*n; j++ {
			fmt.Fprintf(&ports, "link add %s type veth peer name lfq%d\n", labnet.PortName(providers.ObjectID(providers.LabID(dir), fmt.Sprintf("container.n[%d]", j), 0), 0), j)
		}
		ipBatch(b, netns, ports.String())

		store, err := state.Open(filepath.Join(dir, ".labform", "state.db"), state.Options{})
		if err != nil {
			b.Fatal(err)
		}
		lab, diags := config.Load(dir, reg)
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		p := &planner.Planner{Registry: reg, Store: store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 10}
		plan, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		b.StartTimer()
		start := time.Now()
		res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
		create := time.Since(start)
		b.StopTimer()
		if diags.HasErrors() || res.Err() != nil || res.Added != 3*n {
			b.Fatalf("added %d: %v %v", res.Added, diags, res.Err())
		}
		// 100 links with -target: precise, bridge by bridge.
		p2 := &planner.Planner{Registry: reg, Store: store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 10}
		var tg []addr.Target
		for j := 0; j < 100; j++ {
			t, _ := parseTarget(fmt.Sprintf("link.l[%d]", j))
			tg = append(tg, t...)
		}
		dplan, diags := p2.Plan(context.Background(), planner.PlanOptions{Mode: planner.DestroyMode, Targets: tg})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		b.StartTimer()
		start = time.Now()
		res, diags = p2.Apply(context.Background(), dplan, planner.ApplyOptions{})
		partial := time.Since(start)
		b.StopTimer()
		if diags.HasErrors() || res.Err() != nil || res.Destroyed != 100 {
			b.Fatalf("destroyed %d: %v %v", res.Destroyed, diags, res.Err())
		}
		// The rest with the whole lab.
		p3 := &planner.Planner{Registry: reg, Store: store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 10}
		dplan, diags = p3.Plan(context.Background(), planner.PlanOptions{Mode: planner.DestroyMode})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		gone := witness(b, netns, 0) // the benchmark removes the namespace itself
		b.StartTimer()
		start = time.Now()
		res, diags = p3.Apply(context.Background(), dplan, planner.ApplyOptions{})
		destroy := time.Since(start)
		b.StopTimer()
		if diags.HasErrors() || res.Err() != nil || res.Destroyed != 3*n-100 {
			b.Fatalf("destroyed %d: %v %v", res.Destroyed, diags, res.Err())
		}
		labnet.DeleteNetns(netns) // gone already: the first link's delete removed it
		kernel := waitGone(b, start, gone)
		store.Close()

		// The floors, in a namespace of their own, on ports of their own.
		floorNs := netns + "f"
		exec.Command("ip", "netns", "add", floorNs).Run()
		b.Cleanup(func() { exec.Command("ip", "netns", "del", floorNs).Run() })
		var veths, add, del strings.Builder
		for j := 0; j < n; j++ {
			for k := 0; k < 2; k++ {
				fmt.Fprintf(&veths, "link add lfy%d-%d type veth peer name lfz%d-%d\nlink set lfy%d-%d up\n", j, k, j, k, j, k)
				fmt.Fprintf(&add, "qdisc add dev lfy%d-%d clsact\nfilter add dev lfy%d-%d ingress pref 1 u32 match u32 0 0 action mirred egress redirect dev lfy%d-%d\n", j, k, j, k, j, 1-k)
				if j < 100 {
					fmt.Fprintf(&del, "qdisc del dev lfy%d-%d clsact\n", j, k)
				}
			}
		}
		ipBatch(b, floorNs, veths.String())
		floorCreate := toolBatch(b, "tc", floorNs, add.String())
		floorDelete := toolBatch(b, "tc", floorNs, del.String())
		floorGone := witness(b, floorNs, 0)
		start = time.Now()
		labnet.DeleteNetns(floorNs)
		floorKernel := waitGone(b, start, floorGone)
		b.ReportMetric(create.Seconds(), "create-s")
		b.ReportMetric(partial.Seconds(), "partial-delete-s")
		b.ReportMetric(destroy.Seconds(), "delete-s")
		b.ReportMetric(kernel.Seconds(), "kernel-done-s")
		b.ReportMetric(floorCreate.Seconds(), "tc-batch-create-s")
		b.ReportMetric(floorDelete.Seconds(), "tc-batch-delete-100-s")
		b.ReportMetric(floorKernel.Seconds(), "ns-delete-kernel-done-s")
	}
}

func ipBatch(b *testing.B, netns, cmds string) time.Duration { return toolBatch(b, "ip", netns, cmds) }

// toolBatch runs cmds through ip or tc -batch in netns, timed.
func toolBatch(b *testing.B, tool, netns, cmds string) time.Duration {
	cmd := exec.Command(tool, "-n", netns, "-batch", "-")
	cmd.Stdin = strings.NewReader(cmds)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s -batch: %v\n%s", tool, err, out)
	}
	return time.Since(start)
}
