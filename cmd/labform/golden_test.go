package main

import (
	"errors"
	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/golden"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// checkGolden compares got with the file, or rewrites it with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	golden.Check(t, path, []byte(got))
}

// The lineage is random, and the serial depends on how the group commit
// batched the writes of the apply before the plan.
var (
	lineageRE = regexp.MustCompile(`"lineage": "[^"]*"`)
	serialRE  = regexp.MustCompile(`"serial": [0-9]+`)
	// The management bridge is named after the lab's ID, which derives
	// from the test's temporary directory.
	bridgeRE = regexp.MustCompile(`"lfm[0-9a-f]{12}"`)
)

// TestGoldenPlans runs each testdata/plans case: before.lab.hcl, when
// present, is applied first; then main.lab.hcl is planned, and the human
// and JSON renderings are compared with plan.golden and plan.json.golden.
func TestGoldenPlans(t *testing.T) {
	cases, _ := filepath.Glob("../../testdata/plans/*")
	if len(cases) == 0 {
		t.Fatal("no golden plan cases")
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := newCLI(t, nil)
			c.write(moduleFiles(t, dir))
			for _, m := range c.mems {
				m.ByID = true // as the real providers name host objects (moved blocks need it)
			}
			if before, err := os.ReadFile(filepath.Join(dir, "before.lab.hcl")); err == nil {
				c.write(map[string]string{"main.lab.hcl": string(before)})
				c.must(0, "apply", "-auto-approve")
			}
			if outside, err := os.ReadFile(filepath.Join(dir, "outside.lab.hcl")); err == nil {
				makeOutside(t, c, outside)
			}
			main, err := os.ReadFile(filepath.Join(dir, "main.lab.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			c.write(map[string]string{"main.lab.hcl": string(main)})
			human := c.must(2, "plan", "-detailed-exitcode").out
			checkGolden(t, filepath.Join(dir, "plan.golden"), human)
			js := c.must(0, "plan", "-json").out
			js = lineageRE.ReplaceAllString(js, `"lineage": "LINEAGE"`)
			js = serialRE.ReplaceAllString(js, `"serial": SERIAL`)
			js = bridgeRE.ReplaceAllString(js, `"lfmLABID"`)
			checkGolden(t, filepath.Join(dir, "plan.json.golden"), js)
		})
	}
}

// moduleFiles reads the files under a case's modules directory, by their
// path relative to the case.
func moduleFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(dir, "modules"), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = string(src)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return files
}

// TestGoldenDiagnostics compares validate's human output (source snippets,
// file:line:col) for a lab with several mistakes.
func TestGoldenDiagnostics(t *testing.T) {
	src, err := os.ReadFile("../../testdata/diagnostics/main.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, map[string]string{"main.lab.hcl": string(src)})
	r := c.must(1, "validate")
	got := strings.ReplaceAll(r.errOut, c.dir, "LABDIR")
	checkGolden(t, "../../testdata/diagnostics/validate.golden", got)
}

// makeOutside stores the instances of a lab file in the in-memory
// providers as objects made outside labform, under "outside/<address>".
func makeOutside(t *testing.T, c *cli, src []byte) {
	t.Helper()
	dir := t.TempDir()
	l := config.NewLab(dir, c.reg)
	diags := l.AddFile(filepath.Join(dir, "outside.lab.hcl"), src)
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	if diags = append(diags, more...); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, a := range d.Order {
		inst := d.Instances[a]
		c.mems[inst.Resource.Provider].MakeOutside(a.Type, "outside/"+a.String(), inst.Value)
	}
}
