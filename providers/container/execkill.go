package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A command started with `runc exec` outlives runc: killed on a timeout
// or an interrupt, runc leaves its command running in the container (the
// command's parent becomes the container's init). execPidFile gives runc
// exec a --pid-file in the bundle; killExec ends what it names, with its
// descendants, when runc did not see the command out.

// execPidFile returns a fresh pid file path for one runc exec, and a
// function that removes it.
func (p *Provider) execPidFile(n names) (string, func(), error) {
	f, err := os.CreateTemp(p.bundle(n), "exec-*.pid")
	if err != nil {
		return "", nil, fmt.Errorf("creating the pid file runc exec writes: %w", err)
	}
	f.Close()
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

// killExec SIGKILLs the process the pid file names, and its descendants,
// when it still runs in the pid namespace of the container whose init is
// initPid. It returns how many processes it killed.
func killExec(pidFile string, initPid int) int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || initPid <= 0 || pid == initPid {
		return 0
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return 0 // gone
	}
	if want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPid)); err != nil || want != ns {
		return 0 // the pid is another process's now
	}
	killed := 0
	for _, q := range withDescendants(pid) {
		if syscall.Kill(q, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}

// withDescendants returns pid and every process below it, from the
// parent pids in /proc/<pid>/stat.
func withDescendants(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(b), ')')
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
			children[parent] = append(children[parent], child)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
