package labnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gone reports whether the process is gone; a zombie counts as gone, as
// PID 1 here reaps orphans lazily on these machines.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// pidsIn reads the pids a script wrote, one a line.
func pidsIn(t *testing.T, path string) []int {
	t.Helper()
	b, _ := os.ReadFile(path)
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %q", path, b)
		}
		pids = append(pids, pid)
	}
	return pids
}

func TestRun(t *testing.T) {
	tests := map[string]struct {
		script  string
		stdin   string
		timeout time.Duration
		cancel  time.Duration // cancel the context after this long
		stdout  string
		errHas  []string // empty: no error
		within  time.Duration
		killed  bool // the pids the script wrote must be gone
	}{
		"stdout apart from stderr": {
			script: `echo '[{"id":"a"}]'; echo 'load container b: no state' >&2`,
			stdout: `[{"id":"a"}]` + "\n", within: 5 * time.Second,
		},
		"stdin is fed": {
			script: `cat`, stdin: "*filter\nCOMMIT\n", stdout: "*filter\nCOMMIT\n", within: 5 * time.Second,
		},
		"failure says what ran and what it said": {
			script: `echo partial; echo 'line 2: RULE_APPEND failed' >&2; exit 4`,
			stdout: "partial\n", errHas: []string{"sh -c", "exit status 4", "line 2: RULE_APPEND failed"}, within: 5 * time.Second,
		},
		"timeout kills the whole group, grandchildren too": {
			script:  `sleep 100 & echo $! >> $PIDS; (sleep 100; true) & echo $! >> $PIDS; echo $$ >> $PIDS; echo 'stuck' >&2; wait`,
			timeout: 300 * time.Millisecond,
			errHas:  []string{"timed out after 300ms", "process group was killed", "stuck"}, within: 3 * time.Second, killed: true,
		},
		"cancel kills the whole group": {
			script: `sleep 100 & echo $! >> $PIDS; echo $$ >> $PIDS; wait`,
			cancel: 300 * time.Millisecond,
			errHas: []string{"interrupted", "process group was killed"}, within: 3 * time.Second, killed: true,
		},
		"a process that left the group does not hold the call": {
			// setsid puts sleep in a session of its own, as runc's
			// container init and QEMU's daemon are; it keeps stdout.
			script: `setsid sleep 30 & echo $! >> $PIDS; echo started`,
			stdout: "started\n", within: 5 * time.Second,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pids")
			t.Setenv("PIDS", pidFile)
			t.Cleanup(func() {
				for _, pid := range pidsIn(t, pidFile) {
					syscallKill(pid)
				}
			})
			ctx := context.Background()
			if tc.cancel > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(tc.cancel, cancel)
			}
			var stdin []byte
			if tc.stdin != "" {
				stdin = []byte(tc.stdin)
			}
			start := time.Now()
			out, err := Run(ctx, Tool{Name: "sh", Args: []string{"-c", tc.script}, Stdin: stdin, Timeout: tc.timeout})
			took := time.Since(start)
			if took > tc.within {
				t.Errorf("took %v, want under %v", took, tc.within)
			}
			if len(tc.errHas) == 0 && err != nil {
				t.Fatalf("error: %v", err)
			}
			for _, want := range tc.errHas {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v lacks %q", err, want)
				}
			}
			if err != nil {
				var ce *CommandError
				if !errors.As(err, &ce) {
					t.Errorf("%T is not a *CommandError", err)
				}
			}
			if tc.stdout != "" && string(out) != tc.stdout {
				t.Errorf("stdout %q, want %q", out, tc.stdout)
			}
			if tc.killed {
				pids := pidsIn(t, pidFile)
				if len(pids) == 0 {
					t.Fatal("the script wrote no pids")
				}
				deadline := time.Now().Add(2 * time.Second)
				for _, pid := range pids {
					for !gone(pid) && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond)
					}
					if !gone(pid) {
						t.Errorf("pid %d of the tool's group still runs", pid)
					}
				}
			}
		})
	}
}

func TestRun_missingProgramSaysWhat(t *testing.T) {
	_, err := Run(context.Background(), Tool{Name: "/nonexistent/runc", Args: []string{"list"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/runc list") {
		t.Fatalf("error %v does not name the program", err)
	}
}

func syscallKill(pid int) {
	p, err := os.FindProcess(pid)
	if err == nil {
		p.Kill()
	}
}

func TestRun_afterCancelNothingStarts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	_, err := Run(ctx, Tool{Name: "sh", Args: []string{"-c", "touch " + filepath.Join(dir, "ran")}})
	var ce *CommandError
	if !errors.As(err, &ce) || !ce.Interrupted || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("got %v, want an interruption", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the tool ran after the cancel")
	}
}

// TestEveryToolCallGoesThroughRun keeps Run the one place where providers
// start programs: a provider that calls exec.Command itself would escape
// tool_timeout, the process group and the kill on a second Ctrl-C.
func TestEveryToolCallGoesThroughRun(t *testing.T) {
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == "../labnet/exec.go" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, call := range []string{"exec.Command(", "exec.CommandContext(", "os.StartProcess(", "syscall.ForkExec(", "StartIn("} {
			if strings.Contains(string(b), call) {
				t.Errorf("%s calls %s: run tools through labnet.Run", path, call)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
