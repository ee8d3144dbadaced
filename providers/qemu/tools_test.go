package qemu

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
)

// silentQMP listens on a unix socket, accepts and never says a word: a
// hung QEMU's monitor.
func silentQMP(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return sock
}

func TestDialQMP_boundedByTimeoutAndContext(t *testing.T) {
	sock := silentQMP(t)
	start := time.Now()
	if _, err := dialQMP(context.Background(), sock, 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no greeting") {
		t.Fatalf("a silent monitor: got %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the timeout of 300ms took %v", took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	if _, err := dialQMP(ctx, sock, time.Minute); err == nil {
		t.Fatal("a silent monitor answered")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a cancel after 200ms took %v to end the dial", took)
	}
}

// TestHungQEMUStartTimesOut gives the provider a qemu-system that hangs
// (with a child of its own): with tool_timeout = "1s" the create fails
// after about a second, saying it timed out, and nothing of the fake is
// left. It needs no root: the VM has no adapters.
func TestHungQEMUStartTimesOut(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	fake := filepath.Join(dir, "qemu-system-fake")
	script := "#!/bin/sh\necho $$ >> " + pids + "\nsleep 300 &\necho $! >> " + pids + "\nwait\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	prov := New()
	l := systest.NewLab(t, fmt.Sprintf("lfqh%d", os.Getpid()%100000), prov)
	t.Cleanup(l.DestroyQuietly)
	l.Write(fmt.Sprintf(`
provider "qemu" {
  binary       = %q
  tool_timeout = "1s"
}

vm "a" {
  provider = qemu
  adapters = 0
  console  = "none"
}
`, fake))
	p, plan := l.Plan(planner.NormalMode)
	start := time.Now()
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	took := time.Since(start)
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "timed out after 1s") || !strings.Contains(err.Error(), fake) {
		t.Fatalf("want a timeout that names the binary, got %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("the create took %v with tool_timeout = 1s", took)
	}
	b, _ := os.ReadFile(pids)
	for _, f := range strings.Fields(string(b)) {
		// SIGKILL was sent; on a loaded machine the process may take a
		// moment to be gone.
		var st []byte
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if st, err = os.ReadFile("/proc/" + f + "/stat"); err != nil || strings.Contains(string(st), ") Z ") || time.Now().After(deadline) {
				break
			}
		}
		if st != nil && !strings.Contains(string(st), ") Z ") {
			t.Errorf("pid %s of the hung start still runs 2 s after the timeout: %s", f, st)
		}
	}
	// The next plan is honest: the VM is not there, and is to be created.
	if _, plan := l.Plan(planner.NormalMode); countAction(plan, planner.Create) != 1 {
		t.Errorf("after the timeout the plan does not create the VM: %v", plan.Changes)
	}
}

func countAction(plan *planner.Plan, a planner.Action) int {
	n := 0
	for _, c := range plan.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}
