package gctune

import (
	"os"
	"path/filepath"
	"testing"
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
