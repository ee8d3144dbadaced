package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labform/labform/providers/labnet"
	"golang.org/x/sys/unix"

	"github.com/labform/labform/providers"
)

// ociRuntime runs the OCI runtime (runc) with labform's own --root, so that
// one `runc list` sees this lab's containers and nothing else. Every call
// goes through labnet.Run: bounded by timeout (the provider's
// tool_timeout), in a process group of its own, stderr apart from stdout.
type ociRuntime struct {
	path    string // runc, crun, youki
	root    string // --root: the runtime's state directory for this lab
	timeout time.Duration
}

// run executes the runtime and returns its standard output; a failure
// carries what it said on stderr. Commands that hand their stdio to the
// container (run, create) must use start instead: capturing their output
// through a pipe hangs.
func (r ociRuntime) run(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"--root", r.root}, args...)
	return labnet.Run(ctx, labnet.Tool{Name: r.path, Args: full, Timeout: r.timeout})
}

// start runs `runc run -d` with the container's stdio on a log file in the
// bundle, and reports runc's own words when it fails. It returns the pid,
// which runc writes to a file: no second call to ask. The container's
// init runs in a session of its own (runc calls setsid), so killing
// runc's process group on a timeout never kills a started container.
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
	if _, err := labnet.Run(ctx, labnet.Tool{Name: r.path, Args: args, Stdout: logf, Stderr: logf, Timeout: r.timeout}); err != nil {
		log, _ := os.ReadFile(logPath)
		return 0, fmt.Errorf("%v; bundle %s; runc said: %s", err, bundle, tail(string(log), 20))
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
	Status string `json:"status"` // created, running, paused, stopped; leftover (below)
	Bundle string `json:"bundle"`
	// since is when a leftover's directory last changed.
	since time.Time
}

// runState is the runtime's status in labform's words: a created
// container (made, its init not yet started) and a leftover are stopped.
func (c containerState) runState() providers.RunState {
	switch c.Status {
	case "running":
		return providers.Running
	case "paused":
		return providers.Paused
	}
	return providers.Stopped
}

// leftover is the status list gives a directory under the runtime's root
// that runc cannot load: what a runc killed mid-create leaves (no
// state.json yet). runc list skips it with a complaint on stderr.
const leftover = "leftover"

// leftoverGrace is how old a leftover must be before refresh removes it.
// A younger one may be a create still under way: a runc that outlived a
// killed labform (it runs in a process group of its own) finishes on its
// own. Either way the container reads as absent, and a create meeting
// the directory deletes it first.
const leftoverGrace = 10 * time.Second

// list returns every container under the runtime's root, in one call,
// and the runtime's leftover directories with status leftover.
func (r ociRuntime) list(ctx context.Context) (map[string]containerState, error) {
	entries, err := os.ReadDir(r.root)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]containerState{}, nil
	}
	out, err := r.run(ctx, "list", "--format", "json")
	// runc lists the root's directories, then stats each: one removed in
	// between (a delete still running after a killed labform) fails the
	// whole list. Read again.
	for try := 0; err != nil && strings.Contains(err.Error(), "no such file or directory") && try < 5; try++ {
		time.Sleep(time.Duration(20<<try) * time.Millisecond)
		entries, _ = os.ReadDir(r.root)
		out, err = r.run(ctx, "list", "--format", "json")
	}
	if err != nil {
		return nil, err
	}
	var cs []containerState
	if err := json.Unmarshal(bytes.TrimSpace(out), &cs); err != nil {
		return nil, fmt.Errorf("reading `%s --root %s list --format json`: %w: %q", r.path, r.root, err, tail(string(out), 5))
	}
	m := make(map[string]containerState, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	for _, e := range entries {
		if _, ok := m[e.Name()]; !ok && e.IsDir() {
			c := containerState{ID: e.Name(), Status: leftover}
			if fi, err := e.Info(); err == nil {
				c.since = fi.ModTime()
			}
			m[e.Name()] = c
		}
	}
	return m, nil
}

// removeLeftover deletes a container that runc cannot load, by its exact
// id: runc delete --force removes the directory of an aborted create.
func (r ociRuntime) removeLeftover(ctx context.Context, id string) error {
	if _, err := r.run(ctx, "delete", "--force", id); err != nil {
		// The engine puts the address first: the runc id is said to be one.
		return fmt.Errorf("the runtime's state directory %s (runc id %s) was left by an interrupted create (runc killed before it finished) and could not be removed: %w; remove it with `%s --root %s delete --force %s`",
			filepath.Join(r.root, id), id, err, r.path, r.root, id)
	}
	return nil
}

// state asks the runtime about one container. Reads of many go through
// one list instead (one runc process for the whole lab, not one each).
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
	if err != nil || st.Status == "stopped" { // runc's word: a created container has an init to kill
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
			return fmt.Errorf("the container (runc id %s) did not stop after SIGKILL", id)
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
// from its object ID (providers/identity.go): short (interface names have
// at most 15 characters) and recorded before the create, so that a create
// interrupted by a crash is found again.
type names struct {
	id, netns, labPortPrefix string
	// root is the runtime root of an imported container (made outside
	// labform, under its own root and id); empty for labform's own.
	root string
}

// nameFor is every host name of a container, from its object ID alone:
// never from its address, so that a renamed container (moved block)
// keeps its runc id, namespace and ports.
func nameFor(id string) names {
	return names{id: "lf-" + id, netns: labnet.ContainerNetns(id), labPortPrefix: labnet.PortPrefix(id)}
}

// labPort is the lab-side name of port n, as the link provider finds it.
func (n names) labPort(i int) string { return fmt.Sprintf("%s%d", n.labPortPrefix, i) }

// RuntimeRoot is the runtime's --root for a lab: one per lab (by its ID),
// so that a `runc list` sees that lab's containers only.
func RuntimeRoot(labID string) string {
	return filepath.Join("/run/labform", "runc-"+labID)
}

// killNow kills a running container's init with SIGKILL and waits until it
// has exited, so that the `runc delete --force` after it finds the
// container stopped and removes it at once: on a running container, runc
// 1.1 sends the signal itself and then sleeps 100 ms between checks. The
// process is held by a pidfd, and signalled only if it is in the
// container's pinned network namespace (netns), so that a pid reused in
// between is never hit. Anything unexpected leaves the work to runc.
func killNow(pid int, netns string, timeout time.Duration) {
	if pid <= 0 {
		return
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var want, have unix.Stat_t
	if unix.Stat(netns, &want) != nil || unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &have) != nil ||
		want.Dev != have.Dev || want.Ino != have.Ino {
		return
	}
	if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) != nil {
		return
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n, err := unix.Poll(fds, int(time.Until(deadline)/time.Millisecond)+1)
		if n > 0 || (err != nil && err != unix.EINTR) {
			return
		}
	}
}
