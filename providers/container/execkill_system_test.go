package container

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// inContainer lists the processes in the container's pid namespace whose
// command line holds want.
func inContainer(t *testing.T, initPid int, want string) []string {
	t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPid))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if n, err := os.Readlink(d + "/ns/pid"); err != nil || n != ns {
			continue
		}
		b, _ := os.ReadFile(d + "/cmdline")
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, want) {
			found = append(found, filepath.Base(d)+": "+cmd)
		}
	}
	return found
}

// TestSystem_killedExecLeavesNothing: a command that outlives its
// deadline (a check's or ready gate's exec timeout, an on_change past
// tool_timeout) is killed in the container with what it started, not
// left running there once runc is gone.
func TestSystem_killedExecLeavesNothing(t *testing.T) {
	l := newSysLab(t)
	l.Write(`
provider "container" {
  tool_timeout = "2s"
}
container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  file {
    path      = "/etc/x"
    content   = "CONTENT"
    on_change = ["sh", "-c", "sleep 3002; true"]
  }
}
`)
	l.Apply(planner.NormalMode)
	initPid := l.state("container.a").Pid

	for _, tc := range []struct {
		name, marker string
		run          func() error
	}{
		{"exec past its context's deadline", "sleep 3001", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			req := providers.ExecRequest{
				DescribeRequest: providers.DescribeRequest{Type: "container", Addr: "container.a", ID: l.ID("container.a"),
					Value: cty.ObjectVal(map[string]cty.Value{"state": cty.StringVal("running")})},
				Argv: []string{"sh", "-c", "sleep 3001; true"}, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
			}
			_, err := l.prov.Exec(ctx, req)
			return err
		}},
		{"on_change past tool_timeout", "sleep 3002", func() error {
			src, _ := os.ReadFile(filepath.Join(l.Dir, "main.lab.hcl"))
			os.WriteFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(strings.Replace(string(src), "CONTENT", "CHANGED", 1)), 0o644)
			p, plan := l.Plan(planner.NormalMode)
			res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
			if diags.HasErrors() {
				return diags
			}
			return res.Err()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("the command was not stopped at its deadline")
			}
			if left := inContainer(t, initPid, tc.marker); len(left) > 0 {
				t.Fatalf("after %v, still running in the container: %v", err, left)
			}
		})
	}

	// A command that ends on its own, even failing, keeps the daemon it
	// started in the background: only a command stopped at its deadline
	// is killed with what it started.
	t.Run("a daemon started by a command that exits", func(t *testing.T) {
		req := providers.ExecRequest{
			DescribeRequest: providers.DescribeRequest{Type: "container", Addr: "container.a", ID: l.ID("container.a"),
				Value: cty.ObjectVal(map[string]cty.Value{"state": cty.StringVal("running")})},
			Argv: []string{"sh", "-c", "sleep 3004 >/dev/null 2>&1 </dev/null & exit 1"}, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		}
		code, err := l.prov.Exec(context.Background(), req)
		if err != nil || code != 1 {
			t.Fatalf("exec: exit %d, %v; want 1 and no error", code, err)
		}
		if left := inContainer(t, initPid, "sleep 3004"); len(left) != 1 {
			t.Fatalf("the daemon the command started: %v, want it running", left)
		}
	})
}
