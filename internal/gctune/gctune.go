package gctune

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Percent is the collection target (GOGC) labform runs with: the heap
// grows to Percent% over the live data before the next collection.
const Percent = 300

// Set applies Percent, and a soft memory limit of three quarters of the
// memory the process may use (its cgroup's limit, else the machine's):
// near the limit the collector works harder instead of letting the heap
// grow. GOGC and GOMEMLIMIT in the environment win.
func Set() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if limit := Available(); limit > 0 {
			debug.SetMemoryLimit(limit / 4 * 3)
		}
	}
}

// Available is the memory the process may use, in bytes: the smallest of
// its cgroup's limit (v2 memory.max, v1 memory.limit_in_bytes) and the
// machine's memory; 0 when none can be read.
func Available() int64 {
	best := meminfoTotal()
	for _, f := range cgroupLimitFiles() {
		if n := readLimit(f); n > 0 && (best == 0 || n < best) {
			best = n
		}
	}
	return best
}

// cgroupLimitFiles lists the files that may hold this process's memory
// limit, from /proc/self/cgroup.
func cgroupLimitFiles() []string {
	const root = "/sys/fs/cgroup"
	files := []string{filepath.Join(root, "memory.max"), filepath.Join(root, "memory", "memory.limit_in_bytes")}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return files
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || strings.Contains(parts[2], "..") {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			files = append(files, filepath.Join(root, parts[2], "memory.max"))
		case contains(strings.Split(parts[1], ","), "memory"):
			files = append(files, filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes"))
		}
	}
	return files
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readLimit reads a cgroup limit file: a number of bytes, or "max" (and
// v1's near-2^63 value) for none, which read as 0.
func readLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0
	}
	return n
}

// meminfoTotal is MemTotal from /proc/meminfo, in bytes (0 if unreadable).
func meminfoTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// Hold keeps the collector from running until the heap reaches n bytes
// (or the memory limit, when lower), then lets it run as before: for a
// command that keeps most of what it allocates and ends soon (validate
// of a large lab keeps its parse tree and values to the end, and its one
// cycle over a heap of a hundred megabytes was a tenth of its CPU time).
// The cycle that the held heap reaches restores the settings. GOGC in
// the environment wins: then Hold does nothing.
func Hold(n int64) {
	if os.Getenv("GOGC") != "" {
		return
	}
	percent := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(-1)
	debug.SetMemoryLimit(min(n, limit))
	// The sentinel is unreachable at once: the first cycle finalizes it.
	sentinel := new([16]byte)
	runtime.SetFinalizer(sentinel, func(*[16]byte) {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}
