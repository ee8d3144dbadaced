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
	"github.com/labform/labform/internal/memprovider"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/link"
	"github.com/labform/labform/state"
)

// BenchmarkLinks1000 creates 1,000 links in one apply and deletes them in
// one destroy. The nodes are in memory (this measures links, not
// containers): their 2,000 lab-side port interfaces are made beforehand
// with ip -batch, as the container provider would have. The floor is
// ip -batch doing the same link work: 1,000 bridges added, 2,000 ports
// joined, and the bridges deleted.
func BenchmarkLinks1000(b *testing.B) {
	requireTools(b, "ip")
	const n = 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		name := fmt.Sprintf("lflb%d", os.Getpid()%100000)
		netns := labnet.LabNetns(name)
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
		// Destroy only the links (the in-memory nodes would go in no time).
		p2 := &planner.Planner{Registry: reg, Store: store, Lab: lab, Inputs: config.NewInputs(), Parallelism: 10}
		tg, _ := parseTarget("link.l")
		dplan, diags := p2.Plan(context.Background(), planner.PlanOptions{Mode: planner.DestroyMode, Targets: tg})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		b.StartTimer()
		start = time.Now()
		res, diags = p2.Apply(context.Background(), dplan, planner.ApplyOptions{})
		destroy := time.Since(start)
		b.StopTimer()
		if diags.HasErrors() || res.Err() != nil || res.Destroyed != n {
			b.Fatalf("destroyed %d: %v %v", res.Destroyed, diags, res.Err())
		}
		store.Close()

		// The floor, in the same namespace, on the same ports.
		var add, del strings.Builder
		for j := 0; j < n; j++ {
			fmt.Fprintf(&add, "link add lfx%d type bridge\nlink set lfx%d up\n", j, j)
			for k := 0; k < 2; k++ {
				port := labnet.PortName(providers.ObjectID(providers.LabID(dir), fmt.Sprintf("container.n[%d]", 2*j+k), 0), 0)
				fmt.Fprintf(&add, "link set %s master lfx%d\nlink set %s up\n", port, j, port)
			}
			fmt.Fprintf(&del, "link del lfx%d\n", j)
		}
		floorCreate := ipBatch(b, netns, add.String())
		floorDelete := ipBatch(b, netns, del.String())
		b.ReportMetric(create.Seconds(), "create-s")
		b.ReportMetric(destroy.Seconds(), "delete-s")
		b.ReportMetric(floorCreate.Seconds(), "ip-batch-create-s")
		b.ReportMetric(floorDelete.Seconds(), "ip-batch-delete-s")
	}
}

func ipBatch(b *testing.B, netns, cmds string) time.Duration {
	cmd := exec.Command("ip", "-n", netns, "-batch", "-")
	cmd.Stdin = strings.NewReader(cmds)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ip -batch: %v\n%s", err, out)
	}
	return time.Since(start)
}
