package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/labform/labform/planner"
)

const tenVMs = `
vm "v" {
  count    = 10
  provider = qemu
  accel    = "tcg"
  memory   = 64
  adapters = 2
  console  = "telnet"
}
`

// BenchmarkApply10VMs: apply of 10 diskless VMs (2 adapters and a telnet
// console each) at parallelism 10, until every one answers QMP; destroy
// is outside the timer. Compare with BenchmarkDirect10VMs.
func BenchmarkApply10VMs(b *testing.B) {
	l := newVMLab(b, "b")
	l.Write(tenVMs)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p, plan := l.Plan(planner.NormalMode)
		p.Parallelism = 10
		b.StartTimer()
		res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
		if diags.HasErrors() || res.Err() != nil {
			b.Fatal(diags, res.Err())
		}
		b.StopTimer()
		l.Apply(planner.DestroyMode)
		b.StartTimer()
	}
}

// BenchmarkDirect10VMs: the floor, the same 10 command lines (with a udp
// socket netdev in place of the taps) started at once, until every parent
// has exited, which with -daemonize means initialized.
func BenchmarkDirect10VMs(b *testing.B) {
	newVMLab(b, "d")
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for v := 0; v < 10; v++ {
			vd := filepath.Join(dir, fmt.Sprint(v))
			os.MkdirAll(vd, 0o755)
			c := &vmConfig{Addr: fmt.Sprintf("vm.v[%d]", v), UUID: vmUUID(dir, fmt.Sprint(v)), Dir: vd, RunDir: vd, Platform: "x86_64", Accel: "tcg",
				Memory: 64, CPUs: 1, Adapters: 2, NIC: "e1000", MACs: macs("", dir+fmt.Sprint(v), 2), BootOrder: "c", Console: "telnet", Port: 7000 + v}
			args := argv(c)
			for j, a := range args {
				if strings.HasPrefix(a, "tap,id=net") {
					n := strings.TrimPrefix(strings.Split(a, ",")[1], "id=net")
					args[j] = fmt.Sprintf("socket,id=net%s,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d", n, 21000+v*10+len(n), 22000+v*10+len(n))
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if out, err := exec.Command("qemu-system-x86_64", args...).CombinedOutput(); err != nil {
					errs <- fmt.Errorf("%v: %s", err, out)
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Error(err)
		}
		for v := 0; v < 10; v++ {
			bs, _ := os.ReadFile(filepath.Join(dir, fmt.Sprint(v), pidFile))
			var pid int
			fmt.Sscan(string(bs), &pid)
			if start, ok := procStart(pid); ok {
				kill(pid, start)
				waitGone(context.Background(), pid, start, 5e9)
			}
		}
		b.StartTimer()
	}
}
