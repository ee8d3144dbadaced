package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procStart reads a process's start time (clock ticks after boot, field
// 22 of /proc/PID/stat), which with the pid identifies one process: a pid
// reused by another program has another start time. A zombie counts as
// gone: PID 1 here reaps daemonized processes lazily on these machines.
func procStart(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return start, err == nil
}

// cmdlineHas reports whether the process's command line holds arg.
func cmdlineHas(pid int, arg string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), arg)
}

// alive reports whether the process that started at start still runs.
func alive(pid int, start uint64) bool {
	s, ok := procStart(pid)
	return ok && s == start
}

// waitGone polls until the process is gone or the time is up.
func waitGone(ctx context.Context, pid int, start uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !alive(pid, start) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// renice sets every thread of the process to the priority: on Linux,
// setpriority on a pid reaches only its main thread.
func renice(pid, prio int) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(t.Name())
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, prio); err != nil {
			return fmt.Errorf("setpriority(%d, %d): %w", tid, prio, err)
		}
	}
	return nil
}

// cpuCgroupRoot is where cpu_throttling's cgroups go (cgroup v1's cpu
// controller, as on the project's machines).
const cpuCgroupRoot = "/sys/fs/cgroup/cpu/labform"

// throttle caps the process at pct percent of one CPU with a CFS quota in
// a cgroup of its own (GNS3 runs cpulimit for this; the kernel does it
// without a helper process).
func throttle(id string, pid, pct int) error {
	dir := filepath.Join(cpuCgroupRoot, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cpu_throttling: %w (is cgroup v1's cpu controller mounted at /sys/fs/cgroup/cpu?)", err)
	}
	for _, w := range []struct{ file, val string }{
		{"cpu.cfs_period_us", "100000"},
		{"cpu.cfs_quota_us", strconv.Itoa(pct * 1000)},
		{"cgroup.procs", strconv.Itoa(pid)},
	} {
		if err := os.WriteFile(filepath.Join(dir, w.file), []byte(w.val), 0o644); err != nil {
			return fmt.Errorf("cpu_throttling: writing %s to %s: %w", w.val, filepath.Join(dir, w.file), err)
		}
	}
	return nil
}

// unthrottle removes the cgroup once its process has gone. A zombie not
// yet reaped (PID 1 here is slow at it) keeps the cgroup busy for a
// while, so removal is retried for a few seconds.
func unthrottle(id string) {
	dir := filepath.Join(cpuCgroupRoot, id)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := os.Remove(dir); err == nil || os.IsNotExist(err) || time.Now().After(deadline) {
			return
		}
	}
}

// kill sends SIGKILL to the process if it is still the one that started
// at start.
func kill(pid int, start uint64) {
	if alive(pid, start) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// logTail is the end of a VM's qemu.log, for errors.
func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no " + path + ")"
	}
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
