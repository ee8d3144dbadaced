package remote

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/internal/agent"
)

// syncTo sends what dst lacks of src, as syncLab does to a host whose lab
// directory is dst, and returns the paths sent.
func syncTo(t *testing.T, src, dst string) []string {
	t.Helper()
	files, err := labManifest(src)
	if err != nil {
		t.Fatal(err)
	}
	need := agent.Need(dst, files)
	byPath := map[string]bool{}
	for _, p := range need {
		byPath[p] = true
	}
	var send []agent.FileEntry
	for _, f := range files {
		if byPath[f.Path] {
			send = append(send, f)
		}
	}
	var stream bytes.Buffer
	if err := writeLabFiles(&stream, src, send); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.ReceiveLabFiles(dst, &stream); err != nil {
		t.Fatal(err)
	}
	sort.Strings(need)
	return need
}

// TestSyncLab: a lab directory (files, modes, a symbolic link, nested
// directories) reaches a host that has none of it; a second sync sends
// nothing; a changed file is sent again, alone; .labform never goes; a
// host whose directory holds a symbolic link where the lab has a
// directory is refused rather than written through.
func TestSyncLab(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "lab")
	write := func(rel, data string, mode os.FileMode) {
		p := filepath.Join(src, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("main.lab.hcl", "container \"a\" {}\n", 0o644)
	write("rootfs/bin/busybox", "ELF", 0o755)
	write("configs/r1/frr.conf", "router ospf\n", 0o640)
	write(".labform/state.db", "secret state", 0o600)
	if err := os.Symlink("busybox", filepath.Join(src, "rootfs/bin/sh")); err != nil {
		t.Fatal(err)
	}
	sent := syncTo(t, src, dst)
	if strings.Join(sent, " ") != "configs configs/r1 configs/r1/frr.conf main.lab.hcl rootfs rootfs/bin rootfs/bin/busybox rootfs/bin/sh" {
		t.Fatalf("first sync sent %v", sent)
	}
	for rel, want := range map[string]string{"main.lab.hcl": "container \"a\" {}\n", "rootfs/bin/busybox": "ELF", "configs/r1/frr.conf": "router ospf\n"} {
		b, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || string(b) != want {
			t.Errorf("%s on the host: %q, %v", rel, b, err)
		}
	}
	if st, _ := os.Stat(filepath.Join(dst, "configs/r1/frr.conf")); st == nil || st.Mode().Perm() != 0o640 {
		t.Errorf("frr.conf's mode on the host: %v", st)
	}
	if l, err := os.Readlink(filepath.Join(dst, "rootfs/bin/sh")); err != nil || l != "busybox" {
		t.Errorf("the symbolic link on the host: %q, %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(dst, ".labform")); err == nil {
		t.Error(".labform was sent")
	}
	if sent := syncTo(t, src, dst); len(sent) != 0 {
		t.Fatalf("a second sync sent %v", sent)
	}
	time.Sleep(10 * time.Millisecond)
	write("configs/r1/frr.conf", "router ospf\n network 10.0.0.0/8 area 0\n", 0o640)
	if sent := syncTo(t, src, dst); strings.Join(sent, " ") != "configs/r1/frr.conf" {
		t.Fatalf("after an edit, the sync sent %v", sent)
	}

	// The host has a symbolic link to elsewhere where the lab has a
	// directory: nothing is written through it.
	elsewhere := t.TempDir()
	os.RemoveAll(filepath.Join(dst, "configs"))
	if err := os.Symlink(elsewhere, filepath.Join(dst, "configs")); err != nil {
		t.Fatal(err)
	}
	files, _ := labManifest(src)
	var only []agent.FileEntry
	for _, f := range files {
		if f.Path == "configs/r1/frr.conf" {
			only = append(only, f)
		}
	}
	var stream bytes.Buffer
	writeLabFiles(&stream, src, only)
	if _, err := agent.ReceiveLabFiles(dst, &stream); err == nil || !strings.Contains(err.Error(), "not a directory on the host") {
		t.Fatalf("receiving through a symbolic link: %v", err)
	}
	// The whole directory sent: the link is replaced by the lab's
	// directory; still nothing is written through it.
	stream.Reset()
	writeLabFiles(&stream, src, files)
	if _, err := agent.ReceiveLabFiles(dst, &stream); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(filepath.Join(dst, "configs")); err != nil || !st.IsDir() {
		t.Fatalf("configs on the host after a full sync: %v, %v", st, err)
	}
	if left, _ := os.ReadDir(elsewhere); len(left) != 0 {
		t.Fatalf("files were written through the link: %v", left)
	}
}
