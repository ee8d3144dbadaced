package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/state"
	"github.com/zclconf/go-cty/cty"
)

const identityLab = `
lab {
  name = "%s"
}
container "h" {
  count  = 2
  rootfs = "rootfs"
}
`

// labAt writes a lab named name into dir and returns a CLI on it whose
// in-memory objects are files under memDir (shared by CLIs that model
// one host).
func labAt(t *testing.T, dir, memDir, name string) *cli {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	c := &cli{t: t, dir: dir}
	c.reg, c.mems = memRegistry(memDir)
	c.write(map[string]string{"main.lab.hcl": strings.Replace(identityLab, "%s", name, 1)})
	return c
}

// TestLabIdentity_nameHeldByAnotherLab: two labs of one name on one host
// would share the lab namespace; the second is refused until the first
// is destroyed.
func TestLabIdentity_nameHeldByAnotherLab(t *testing.T) {
	mem := t.TempDir()
	a := labAt(t, filepath.Join(t.TempDir(), "one", "lab"), mem, "campus-id1")
	b := labAt(t, filepath.Join(t.TempDir(), "two", "lab"), mem, "campus-id1")
	a.must(0, "apply", "-auto-approve")
	r := b.must(1, "plan")
	if !strings.Contains(r.errOut, "Lab name in use") || !strings.Contains(r.errOut, a.dir) {
		t.Fatalf("want a refusal naming the other lab:\n%s", r.errOut)
	}
	b.must(1, "apply", "-auto-approve")
	a.must(0, "destroy", "-auto-approve")
	b.must(0, "apply", "-auto-approve")
	b.must(0, "destroy", "-auto-approve")
}

// TestLabIdentity_symlinkedPathIsTheSameLab: a lab reached through a
// symlink is the lab at its real path: same ID, nothing planned twice.
func TestLabIdentity_symlinkedPathIsTheSameLab(t *testing.T) {
	root := t.TempDir()
	c := labAt(t, filepath.Join(root, "real"), t.TempDir(), "symlinked-id2")
	link := filepath.Join(root, "link")
	if err := os.Symlink(c.dir, link); err != nil {
		t.Fatal(err)
	}
	real := c.dir
	c.dir = link
	c.must(0, "apply", "-auto-approve")
	c.dir = real
	c.must(0, "plan", "-detailed-exitcode")
	s, err := state.Open(filepath.Join(real, ".labform", "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, _ := s.Meta()
	resolved, _ := filepath.EvalSymlinks(real)
	if m.LabDir != resolved || m.LabID == "" {
		t.Fatalf("state records lab %q at %q, want the real path %q", m.LabID, m.LabDir, resolved)
	}
}

// TestLabIdentity_movedAndCopied: a moved lab keeps its ID and says so;
// a copy of a running lab's directory is refused.
func TestLabIdentity_movedAndCopied(t *testing.T) {
	root, mem := t.TempDir(), t.TempDir()
	c := labAt(t, filepath.Join(root, "first"), mem, "moved-id3")
	c.must(0, "apply", "-auto-approve")
	moved := filepath.Join(root, "second")
	if err := os.Rename(c.dir, moved); err != nil {
		t.Fatal(err)
	}
	c.dir = moved
	r := c.must(0, "plan", "-detailed-exitcode")
	if !strings.Contains(r.errOut+r.out, "Lab directory moved") || !strings.Contains(r.errOut+r.out, filepath.Join(root, "first")) {
		t.Fatalf("want the move explained:\n%s%s", r.out, r.errOut)
	}
	c.must(0, "apply", "-auto-approve")
	if r := c.must(0, "plan"); strings.Contains(r.errOut+r.out, "moved") {
		t.Fatalf("the move is recorded by apply; still reported:\n%s", r.errOut)
	}

	cp := filepath.Join(root, "copy")
	if out, err := exec.Command("cp", "-a", moved, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	dup := labAt(t, cp, mem, "moved-id3")
	r = dup.must(1, "plan")
	if !strings.Contains(r.errOut, "Copy of a lab") {
		t.Fatalf("want the copy refused:\n%s", r.errOut)
	}
	c.must(0, "destroy", "-auto-approve")
}

// TestLabIdentity_stateLost: .labform deleted under a running lab. The
// next plan says so and adopts what it finds where the objects' IDs say;
// destroy then removes them all.
func TestLabIdentity_stateLost(t *testing.T) {
	mem := t.TempDir()
	c := labAt(t, filepath.Join(t.TempDir(), "lab"), mem, "lost-id4")
	c.must(0, "apply", "-auto-approve")
	if n := objectsIn(mem); n != 2 {
		t.Fatalf("%d objects, want 2", n)
	}
	if err := os.RemoveAll(filepath.Join(c.dir, ".labform")); err != nil {
		t.Fatal(err)
	}
	r := c.must(0, "plan", "-detailed-exitcode")
	if !strings.Contains(r.errOut, "The lab's state was lost") || !strings.Contains(r.errOut, "2 found and adopted") {
		t.Fatalf("want the loss and the adoption reported:\n%s\n%s", r.out, r.errOut)
	}
	r = c.must(0, "destroy", "-auto-approve")
	if n := objectsIn(mem); n != 0 {
		t.Fatalf("%d objects left after destroy\n%s", n, r.out)
	}
}

// TestLabIdentity_copyUnderAnotherName: a copy of a running lab's
// directory is refused even when the copy takes another name (its state
// still holds the original's ID, and so its objects' names).
func TestLabIdentity_copyUnderAnotherName(t *testing.T) {
	root, mem := t.TempDir(), t.TempDir()
	c := labAt(t, filepath.Join(root, "orig"), mem, "orig-id5")
	c.must(0, "apply", "-auto-approve")
	cp := filepath.Join(root, "copy")
	if out, err := exec.Command("cp", "-a", c.dir, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	dup := labAt(t, cp, mem, "copy-id5")
	if r := dup.must(1, "plan"); !strings.Contains(r.errOut, "Copy of a lab") || !strings.Contains(r.errOut, c.dir) {
		t.Fatalf("want the copy refused, naming the original:\n%s", r.errOut)
	}
	c.must(0, "destroy", "-auto-approve")
}

// TestLabIdentity_renamedByItsDirectory: a lab without lab { name } takes
// its directory's name; moved to a directory of another name, its objects
// still live under the old one. Plan refuses and says how to go on;
// destroy removes the objects under the recorded name.
func TestLabIdentity_renamedByItsDirectory(t *testing.T) {
	root, mem := t.TempDir(), t.TempDir()
	c := labAt(t, filepath.Join(root, "campus"), mem, "x")
	c.write(map[string]string{"main.lab.hcl": "container \"h\" {\n  rootfs = \"rootfs\"\n}\n"})
	c.must(0, "apply", "-auto-approve")
	moved := filepath.Join(root, "campus2")
	if err := os.Rename(c.dir, moved); err != nil {
		t.Fatal(err)
	}
	c.dir = moved
	r := c.must(1, "plan")
	if !strings.Contains(r.errOut, "Lab renamed") || !strings.Contains(r.errOut, `lab { name = "campus" }`) {
		t.Fatalf("want the rename refused with the way on:\n%s", r.errOut)
	}
	r = c.must(0, "destroy", "-auto-approve")
	if n := objectsIn(mem); n != 0 || !strings.Contains(r.out, "1 destroyed") {
		t.Fatalf("%d objects left after destroy:\n%s%s", n, r.out, r.errOut)
	}
	c.must(0, "apply", "-auto-approve") // a new lab under the new name
	c.must(0, "destroy", "-auto-approve")
}

// TestCLI_driftHidesSensitiveValues: what refresh found (an object
// deleted or changed outside labform) is shown with the sensitive values
// hidden, as the planned changes are.
func TestCLI_driftHidesSensitiveValues(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "apply", "-auto-approve")
	c.mems["container"].Remove("container.host[0]")
	v, _ := c.mems["container"].Get("container.host[1]")
	m := v.AsValueMap()
	m["hostname"] = cty.StringVal("changed-by-hand")
	c.mems["container"].Set("container.host[1]", cty.ObjectVal(m))
	r := c.must(2, "plan", "-detailed-exitcode")
	contains(t, "plan after drift", r.out, "# container.host[0] has been deleted", "# container.host[1] has changed", "(sensitive value)")
	if strings.Contains(r.out, "hunter2") {
		t.Fatalf("the drift shows a sensitive value:\n%s", r.out)
	}
}
