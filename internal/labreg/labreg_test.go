package labreg

import (
	"os"
	"path/filepath"
	"testing"
)

func TestClaimGetFindRelease(t *testing.T) {
	Dir = filepath.Join(t.TempDir(), "labs")
	if e, err := Get("campus"); e != nil || err != nil {
		t.Fatalf("empty registry: %v %v", e, err)
	}
	if err := Claim("campus", "id1", "/labs/a"); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(Dir, "campus.json")); st.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", st.Mode().Perm())
	}
	for name, wantDir := range map[string]string{"campus": "/labs/a", "other": ""} {
		got := ""
		if e, _ := Get(name); e != nil {
			got = e.Dir
		}
		if got != wantDir {
			t.Errorf("Get(%s) holds %q, want %q", name, got, wantDir)
		}
	}
	if e, _ := Find("id1"); e == nil || e.Dir != "/labs/a" {
		t.Errorf("Find(id1) = %+v", e)
	}
	Release("campus", "someone-else")
	if e, _ := Get("campus"); e == nil {
		t.Error("another lab's Release removed the record")
	}
	Release("campus", "id1")
	if e, _ := Get("campus"); e != nil {
		t.Error("Release kept the record")
	}
	// A record torn by a crash reads as absent, not as an error.
	os.WriteFile(filepath.Join(Dir, "torn.json"), []byte("{\"id\":"), 0o600)
	if e, err := Get("torn"); e != nil || err != nil {
		t.Errorf("torn record: %v %v", e, err)
	}
}

func TestHasState(t *testing.T) {
	dir := t.TempDir()
	if HasState(dir) {
		t.Fatal("no .labform: no state")
	}
	os.MkdirAll(filepath.Join(dir, ".labform"), 0o700)
	os.WriteFile(filepath.Join(dir, ".labform", "state.db"), nil, 0o600)
	if HasState(dir) {
		t.Fatal("an empty file is no state")
	}
	os.WriteFile(filepath.Join(dir, ".labform", "state.db"), []byte("x"), 0o600)
	if !HasState(dir) {
		t.Fatal("a state file is state")
	}
}
