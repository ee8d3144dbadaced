package container

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A command started with `runc exec` outlives runc: killed on a timeout
// or an interrupt, runc leaves its command running in the container.
// An execGuard marks one runc exec twice: a --pid-file in the bundle, and
// an environment variable with a token of its own, which every process the
// command starts inherits. kill finds the command's processes by both (a
// runc killed before it wrote its pid file, or a child whose parent died
// first, is found by the token) and stops them before it kills them, so
// none forks past the sweep.
type execGuard struct {
	pidFile string
	env     string // LABFORM_EXEC=<token>
}

const execEnvName = "LABFORM_EXEC"

// newExecGuard creates the pid file for one runc exec in the bundle.
func (p *Provider) newExecGuard(n names) (*execGuard, error) {
	f, err := os.CreateTemp(p.bundle(n), "exec-*.pid")
	if err != nil {
		return nil, fmt.Errorf("creating the pid file runc exec writes: %w", err)
	}
	f.Close()
	var tok [8]byte
	rand.Read(tok[:])
	return &execGuard{pidFile: f.Name(), env: execEnvName + "=" + hex.EncodeToString(tok[:])}, nil
}

// args are runc exec's options for the guard.
func (g *execGuard) args() []string {
	return []string{"--pid-file", g.pidFile, "--env", g.env}
}

// done removes the pid file.
func (g *execGuard) done() { os.Remove(g.pidFile) }

// killIn ends what a killed runc exec left running in the container.
func (p *Provider) killIn(n names, g *execGuard) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := p.rtOf(n).state(ctx, n.id); err == nil {
		g.kill(st.Pid)
	}
}

// kill SIGKILLs the guarded command's processes in the pid namespace of
// the container whose init is initPid, and returns how many it killed.
// A runc init killed mid-start may still exec the command a moment later,
// so the sweep is repeated until two in a row find nothing.
func (g *execGuard) kill(initPid int) int {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPid))
	if err != nil || initPid <= 0 {
		return 0
	}
	killed, quiet := 0, 0
	for round := 0; round < 20 && quiet < 2; round++ {
		if round > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		n := g.sweep(initPid, ns)
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
		killed += n
	}
	return killed
}

// sweep stops, then kills, every process of the command found now.
func (g *execGuard) sweep(initPid int, ns string) int {
	stopped := map[int]bool{}
	for {
		var fresh []int
		for _, pid := range g.find(initPid, ns) {
			if !stopped[pid] {
				fresh = append(fresh, pid)
			}
		}
		if len(fresh) == 0 {
			break
		}
		for _, pid := range fresh {
			syscall.Kill(pid, syscall.SIGSTOP) // stopped, it forks no more
			stopped[pid] = true
		}
	}
	killed := 0
	for pid := range stopped {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}

// find lists the processes in pid namespace ns that carry the guard's
// token or descend from the pid in its pid file (never the init).
func (g *execGuard) find(initPid int, ns string) []int {
	procs := readProcs()
	mark := []byte("\x00" + g.env + "\x00")
	roots := map[int]bool{}
	if b, err := os.ReadFile(g.pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			roots[pid] = true
		}
	}
	for pid, pr := range procs {
		if pr.zombie || pid == initPid {
			continue
		}
		// The namespace first: the environment of every process on the
		// machine is not read.
		if n, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || n != ns {
			continue
		}
		if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err == nil && bytes.Contains(append([]byte{0}, append(env, 0)...), mark) {
			roots[pid] = true
		}
	}
	var out []int
	seen := map[int]bool{}
	var walk func(pid int)
	walk = func(pid int) {
		pr := procs[pid]
		if seen[pid] || pid == initPid || pr == nil || pr.zombie {
			return // gone, or a zombie: dead already, and killing it again would never end the sweep
		}
		seen[pid] = true
		if n, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || n != ns {
			return // gone, or the pid is another namespace's process now
		}
		out = append(out, pid)
		for _, c := range pr.children {
			walk(c)
		}
	}
	for pid := range roots {
		walk(pid)
	}
	return out
}

// proc is one process as /proc/<pid>/stat gives it.
type proc struct {
	children []int
	zombie   bool
}

// readProcs maps every process to its children and state, from
// /proc/<pid>/stat.
func readProcs() map[int]*proc {
	procs := map[int]*proc{}
	get := func(pid int) *proc {
		if procs[pid] == nil {
			procs[pid] = &proc{}
		}
		return procs[pid]
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		child, err1 := strconv.Atoi(filepath.Base(filepath.Dir(s)))
		parent, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil {
			get(child).zombie = f[0] == "Z" || f[0] == "X"
			get(parent).children = append(get(parent).children, child)
		}
	}
	return procs
}
