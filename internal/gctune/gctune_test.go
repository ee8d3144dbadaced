package gctune

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestReadLimit(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		want    int64
	}{
		{"536870912\n", 536870912},
		{"max\n", 0},                 // cgroup v2: no limit
		{"9223372036854771712\n", 0}, // cgroup v1: no limit
		{"not a number", 0},
		{"", 0},
	} {
		f := filepath.Join(dir, "limit")
		if err := os.WriteFile(f, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readLimit(f); got != tc.want {
			t.Errorf("readLimit(%q) = %d, want %d", tc.content, got, tc.want)
		}
	}
	if got := readLimit(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("a missing file reads as %d, want 0", got)
	}
}

// TestAvailable: the memory found is positive and at most the machine's.
func TestAvailable(t *testing.T) {
	total := meminfoTotal()
	if total <= 0 {
		t.Fatal("no MemTotal in /proc/meminfo")
	}
	if got := Available(); got <= 0 || got > total {
		t.Fatalf("Available() = %d, want 1..%d", got, total)
	}
}

// TestHold: while held, the collector does not run (GOGC off, the limit
// at the hold); the first cycle gives back the settings it had.
func TestHold(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set in the environment: Hold does nothing then")
	}
	percent := debug.SetGCPercent(150)
	limit := debug.SetMemoryLimit(1 << 40)
	defer func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) }()
	Hold(512 << 20)
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("held: GOGC %d, want off", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 512<<20 {
		t.Errorf("held: memory limit %d, want %d", l, 512<<20)
	}
	runtime.GC() // the cycle the held heap would have reached
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetGCPercent(-1) != 150 {
		if time.Now().After(deadline) {
			t.Fatal("GOGC not given back after a cycle")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("after a cycle: memory limit %d, want %d", l, int64(1<<40))
	}
}
