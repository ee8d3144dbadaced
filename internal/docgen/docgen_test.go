package docgen_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/labform/labform/internal/docgen"
	"github.com/labform/labform/providers/all"
)

const dir = "../../docs/providers"

// TestProviderDocsAreCurrent fails when a schema changed and
// docs/providers was not written again with `make docs`.
func TestProviderDocsAreCurrent(t *testing.T) {
	reg := all.Registry()
	want := map[string]bool{}
	for _, p := range all.Providers() {
		name := p.Name() + ".md"
		want[name] = true
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("docs/providers/%s is missing: run make docs", name)
			continue
		}
		if string(got) != string(docgen.Provider(reg, p)) {
			t.Errorf("docs/providers/%s is stale: the %s provider's schemas changed; run make docs and commit the result", name, p.Name())
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	var extra []string
	for _, f := range files {
		if !want[filepath.Base(f)] {
			extra = append(extra, filepath.Base(f))
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("docs/providers has pages of no provider: %s", strings.Join(extra, ", "))
	}
}

// TestProviderDocsCoverEveryAttribute: every attribute and nested block
// of every schema is in its provider's page, with its type.
func TestProviderDocsCoverEveryAttribute(t *testing.T) {
	reg := all.Registry()
	for _, p := range all.Providers() {
		page := string(docgen.Provider(reg, p))
		for typ, s := range p.Schemas() {
			if !strings.Contains(page, "## Resource `"+typ+"`") {
				t.Errorf("%s: no section for %s", p.Name(), typ)
			}
			for name := range s.Attributes {
				if !strings.Contains(page, "| `"+name+"` | `") {
					t.Errorf("%s: %s.%s missing", p.Name(), typ, name)
				}
			}
			for name := range s.Blocks {
				if !strings.Contains(page, "### Block `"+typ+"."+name+"`") {
					t.Errorf("%s: block %s.%s missing", p.Name(), typ, name)
				}
			}
		}
	}
}
