package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers/all"
	"github.com/labform/labform/providers/remote"
)

// benchSpread is 3 groups of 20 containers with 40 links between the
// groups: on three simulated hosts (the links then cross hosts over
// VXLAN), or all on this machine.
func benchSpread(name string, hostBlocks []string, hosts []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lab {\n  name = %q\n}\n", name)
	for _, h := range hostBlocks {
		b.WriteString(h)
	}
	for g := 0; g < 3; g++ {
		place := ""
		if hosts != nil {
			place = "  host    = host." + hosts[g] + "\n"
		}
		fmt.Fprintf(&b, "container \"g%d\" {\n  count   = 20\n%s  rootfs  = \"rootfs\"\n  command = [\"sleep\", \"3600\"]\n  ports   = 2\n}\n", g, place)
	}
	b.WriteString("link \"x\" {\n  count     = 20\n  endpoints = [container.g0[count.index].port[0], container.g1[count.index].port[0]]\n}\n")
	b.WriteString("link \"y\" {\n  count     = 20\n  endpoints = [container.g1[count.index].port[1], container.g2[count.index].port[0]]\n}\n")
	return b.String()
}

// BenchmarkApplyAcrossHosts applies 3 hosts x 20 containers with links
// across them, against the same 60 containers on this machine. Each
// iteration applies from nothing (timed, with its plan and the SSH
// connections and agents it starts) and destroys (not timed). A labform
// built for the test is copied to the hosts before the timing starts.
func BenchmarkApplyAcrossHosts(b *testing.B) {
	systest.Require(b, "runc", "busybox", "ip")
	sim := systest.NewSimHosts(b, "bench", 3)
	b.Setenv(remote.AgentBinaryEnv, systest.LabformBinary(b))
	var blocks, names []string
	for _, h := range sim.Hosts {
		blocks, names = append(blocks, sim.Block(h)), append(names, h.Name)
	}
	for _, mode := range []string{"local", "hosts"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			systest.BusyboxRootfs(b, filepath.Join(dir, "rootfs"), "sleep")
			name := fmt.Sprintf("lfbh%s%d", mode[:1], os.Getpid()%100000)
			src := benchSpread(name, nil, nil)
			if mode == "hosts" {
				src = benchSpread(name, blocks, names)
			}
			os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(src), 0o644)
			labform := func(args ...string) {
				var out bytes.Buffer
				code := run(append([]string{"-chdir=" + dir, "-no-color"}, args...), all.Registry(), stdio{in: strings.NewReader(""), out: &out, err: &out})
				remote.CloseAll()
				if code != 0 {
					b.Fatalf("labform %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
				}
			}
			b.Cleanup(func() { labform("destroy", "-auto-approve") })
			labform("init") // copies labform to the hosts
			b.ResetTimer()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				labform("apply", "-auto-approve")
				total += time.Since(start)
				b.StopTimer()
				labform("destroy", "-auto-approve")
				b.StartTimer()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s/apply")
		})
	}
}
