package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCLI_filesAreOwnerOnly: what labform writes may hold a sensitive
// value (quickLab's TOKEN): a saved plan, even one replacing a looser
// file, the state, its backups and the .labform directory are readable by
// their owner only.
func TestCLI_filesAreOwnerOnly(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "init")
	planFile := filepath.Join(c.dir, "p.plan")
	if err := os.WriteFile(planFile, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must(0, "plan", "-out", planFile)
	c.must(0, "apply", planFile)
	c.must(0, "apply", "-auto-approve", "-var", "hosts=1") // a second apply: a backup
	modes := map[string]os.FileMode{planFile: 0o600, filepath.Join(c.dir, ".labform"): 0o700,
		filepath.Join(c.dir, ".labform", "state.db"): 0o600}
	backups, _ := filepath.Glob(filepath.Join(c.dir, ".labform", "*", "state-*.db"))
	more, _ := filepath.Glob(filepath.Join(c.dir, ".labform", "state-*.db"))
	backups = append(backups, more...)
	if len(backups) == 0 {
		t.Error("no backup found to check")
	}
	for _, b := range backups {
		modes[b] = 0o600
		modes[filepath.Dir(b)] = 0o700
	}
	for path, want := range modes {
		st, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %o, want %o", path, st.Mode().Perm(), want)
		}
	}
}
