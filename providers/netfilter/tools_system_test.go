package netfilter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/planner"
)

// TestSystem_hungRestoreTimesOut puts an iptables-restore that hangs (and
// has a child of its own) first on PATH: with tool_timeout = "1s" the
// apply fails after about a second with an error that says what was run
// and that it timed out, and neither the fake nor its child is left.
func TestSystem_hungRestoreTimesOut(t *testing.T) {
	l := newNFLab(t, "h")
	bin := t.TempDir()
	pids := filepath.Join(bin, "pids")
	fake := "#!/bin/sh\necho $$ >> " + pids + "\nsleep 300 &\necho $! >> " + pids + "\nwait\n"
	if err := os.WriteFile(filepath.Join(bin, "iptables-restore"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	l.Write(`
provider "netfilter" {
  tool_timeout = "1s"
}

firewall_chain "guard" {
  target = lab
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
}
`)
	p, plan := l.Plan(planner.NormalMode)
	start := time.Now()
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	took := time.Since(start)
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "iptables-restore --noflush --wait") || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("want a timeout that names the tool, got %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("the apply took %v with tool_timeout = 1s", took)
	}
	t.Logf("apply failed after %v: %v", took.Round(time.Millisecond), err)
	// The group was sent SIGKILL; a process of it may still be on its
	// way out (its state R) for a moment after the apply returns.
	b, _ := os.ReadFile(pids)
	for _, f := range strings.Fields(string(b)) {
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			st, err := os.ReadFile("/proc/" + f + "/stat")
			if err != nil || strings.Contains(string(st), ") Z ") {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("pid %s of the hung tool's group still runs: %s", f, st)
				break
			}
		}
	}
}
