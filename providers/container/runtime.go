package container

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/labform/labform/providers/labnet"

	"github.com/labform/labform/providers"
)

// ociRuntime runs the OCI runtime (runc) with labform's own --root, so that
// one `runc list` sees this lab's containers and nothing else.
type ociRuntime struct {
	path string // runc, crun, youki
	root string // --root: the runtime's state directory for this lab
}

// run executes the runtime and returns its output. Commands that hand
// their stdio to the container (run, create) must use start instead:
// capturing their output through a pipe hangs (PLATFORM.md).
func (r ociRuntime) run(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"--root", r.root}, args...)
	cmd := exec.CommandContext(ctx, r.path, full...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", r.path, strings.Join(full, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// start runs `runc run -d` with the container's stdio on a log file in the
// bundle, and reports runc's own words when it fails. It returns the pid,
// which runc writes to a file: no second call to ask.
func (r ociRuntime) start(ctx context.Context, id, bundle string) (int, error) {
	logPath := filepath.Join(bundle, "container.log")
	logf, err := providers.OpenPrivateLog(logPath)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	pidFile := filepath.Join(bundle, "pid")
	os.Remove(pidFile)
	args := []string{"--root", r.root, "run", "--detach", "--pid-file", pidFile, "--bundle", bundle, id}
	cmd := exec.CommandContext(ctx, r.path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, logf, logf
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(logPath)
		return 0, fmt.Errorf("%s %s failed (%v); bundle %s; runc said: %s", r.path, strings.Join(args, " "), err, bundle, tail(string(log), 20))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, err
	}
	var pid int
	_, err = fmt.Sscan(string(b), &pid)
	return pid, err
}

// containerState is one entry of `runc list --format json` / `runc state`.
type containerState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"` // created, running, paused, stopped
	Bundle string `json:"bundle"`
}

// list returns every container under the runtime's root, in one call.
func (r ociRuntime) list(ctx context.Context) (map[string]containerState, error) {
	if _, err := os.Stat(r.root); errors.Is(err, os.ErrNotExist) {
		return map[string]containerState{}, nil
	}
	out, err := r.run(ctx, "list", "--format", "json")
	if err != nil {
		return nil, err
	}
	var cs []containerState
	if err := json.Unmarshal(bytes.TrimSpace(out), &cs); err != nil {
		return nil, fmt.Errorf("reading `%s list`: %w", r.path, err)
	}
	m := make(map[string]containerState, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	return m, nil
}

func (r ociRuntime) state(ctx context.Context, id string) (containerState, error) {
	out, err := r.run(ctx, "state", id)
	if err != nil {
		return containerState{}, err
	}
	var c containerState
	err = json.Unmarshal(out, &c)
	return c, err
}

// stop kills the container (TERM, then KILL after timeout) and waits until
// the runtime says it is stopped.
func (r ociRuntime) stop(ctx context.Context, id string, timeout time.Duration) error {
	st, err := r.state(ctx, id)
	if err != nil || st.Status == "stopped" {
		return err
	}
	if st.Status == "paused" {
		r.run(ctx, "resume", id)
	}
	r.run(ctx, "kill", id, "TERM")
	deadline := time.Now().Add(timeout)
	for {
		st, err := r.state(ctx, id)
		if err != nil || st.Status == "stopped" {
			return err
		}
		if time.Now().After(deadline) {
			r.run(ctx, "kill", id, "KILL")
			timeout, deadline = 0, time.Now().Add(5*time.Second)
		}
		if timeout == 0 && time.Now().After(deadline) {
			return fmt.Errorf("%s did not stop after SIGKILL", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// names derives a container's runtime id, pinned namespace and port names
// from the lab and its address: short (interface names have at most 15
// characters), stable across runs and unique per lab, so that a create
// interrupted by a crash is found again by its address alone.
type names struct {
	id, netns, labPortPrefix string
}

func nameFor(labDir, address string) names {
	h := sha256.Sum256([]byte(labDir + "\x00" + address))
	x := hex.EncodeToString(h[:])
	return names{id: "lf-" + x[:16], netns: labnet.ContainerNetns(labDir, address), labPortPrefix: labnet.PortPrefix(labDir, address)}
}

// labPort is the lab-side name of port n, as the link provider finds it.
func (n names) labPort(i int) string { return fmt.Sprintf("%s%d", n.labPortPrefix, i) }

// RuntimeRoot is the runtime's --root for a lab: one per lab directory,
// so that a `runc list` sees that lab's containers only.
func RuntimeRoot(labDir string) string {
	h := sha256.Sum256([]byte(labDir))
	return filepath.Join("/run/labform", "runc-"+hex.EncodeToString(h[:6]))
}
