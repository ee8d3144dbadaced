package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labform/labform/planner"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkApply50Containers applies 50 containers with parallelism 10
// and compares with the floor: 50 `runc run -d` of the same bundle
// started directly, 10 at a time (the same parallelism), measured right
// before, so that the machine's load weighs on both alike.
func BenchmarkApply50Containers(b *testing.B) {
	requireTools(b, "runc", "busybox")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		floor := runcFloor(b, 50)
		l := newSysLab(b)
		var src strings.Builder
		src.WriteString(`
container "c" {
  count   = 50
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 1
  addresses = {
    eth0 = ["10.202.${floor(count.index / 200)}.${count.index % 200 + 1}/16"]
  }
}
`)
		l.Write(src.String())
		p, plan := l.Plan(planner.NormalMode)
		p.Parallelism = 10
		b.StartTimer()
		start := time.Now()
		res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
		elapsed := time.Since(start)
		b.StopTimer()
		if diags.HasErrors() || res.Err() != nil || res.Added != 50 {
			b.Fatalf("added %d: %v %v", res.Added, diags, res.Err())
		}
		b.ReportMetric(floor.Seconds(), "runc-run-10-at-a-time-s")
		b.ReportMetric(elapsed.Seconds()/floor.Seconds(), "x-floor")
		start = time.Now()
		l.Apply(planner.DestroyMode)
		b.ReportMetric(time.Since(start).Seconds(), "destroy-s")
	}
}

// runcFloor times n `runc run -d` of a minimal busybox bundle started 10
// at a time (no namespace set-up, no ports), and removes them.
func runcFloor(b *testing.B, n int) time.Duration {
	dir := b.TempDir()
	root := filepath.Join(dir, "runc-root")
	bundle := filepath.Join(dir, "bundle")
	bin := filepath.Join(bundle, "rootfs", "bin")
	os.MkdirAll(bin, 0o755)
	bb, _ := exec.LookPath("busybox")
	data, _ := os.ReadFile(bb)
	os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755)
	os.Symlink("busybox", filepath.Join(bin, "sleep"))
	spec, _ := BuildSpec(evalContainer(b, `container "f" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}`), SpecEnv{LabDir: bundle})
	// The floor joins no pinned namespace: runc makes a new one.
	ns := spec.Linux.Namespaces[:0]
	for _, x := range spec.Linux.Namespaces {
		if x.Type != "network" {
			ns = append(ns, x)
		}
	}
	spec.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	js, _ := json.Marshal(spec)
	os.WriteFile(filepath.Join(bundle, "config.json"), js, 0o644)
	logf, _ := os.Create(filepath.Join(dir, "log"))
	defer logf.Close()
	id := func(i int) string { return fmt.Sprintf("lffloor%d-%d", os.Getpid(), i) }
	defer func() {
		for i := 0; i < n; i++ {
			exec.Command("runc", "--root", root, "delete", "-f", id(i)).Run()
		}
	}()
	sem := make(chan struct{}, 10)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			cmd := exec.Command("runc", "--root", root, "run", "-d", "--bundle", bundle, id(i))
			cmd.Stdout, cmd.Stderr = logf, logf
			if err := cmd.Run(); err != nil {
				errs <- fmt.Errorf("runc run %s: %v", id(i), err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return elapsed
}
