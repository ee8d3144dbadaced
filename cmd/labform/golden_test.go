package main

import (
	"github.com/labform/labform/internal/golden"
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
			for _, m := range c.mems {
				m.ByID = true // as the real providers name host objects (moved blocks need it)
			}
			if before, err := os.ReadFile(filepath.Join(dir, "before.lab.hcl")); err == nil {
				c.write(map[string]string{"main.lab.hcl": string(before)})
				c.must(0, "apply", "-auto-approve")
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
			checkGolden(t, filepath.Join(dir, "plan.json.golden"), js)
		})
	}
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
