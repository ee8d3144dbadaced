package layers

import (
	"go/build"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/labform/labform/"

// allowed is, for every package, the labform packages its non-test files
// may import, as its doc.go says. A package missing here fails the test,
// so that a new one states its place.
var allowed = map[string][]string{
	"checks":                              {"config", "config/addr", "internal/par", "providers", "providers/labnet"},
	"cmd/labform":                         {"checks", "config", "config/addr", "internal/agent", "internal/console", "internal/gctune", "internal/labview", "planner", "planner/render", "providers", "providers/all", "providers/remote", "state", "state/etcd"},
	"cmd/labform-graphviz":                {"internal/graphviz"},
	"config":                              {"config/addr", "internal/ctyobj", "internal/par", "providers"},
	"config/addr":                         nil,
	"examples/frr/mkimage":                nil,
	"internal/agent":                      {"providers", "providers/labnet"},
	"internal/console":                    nil,
	"internal/ctyobj":                     nil,
	"internal/doccheck":                   nil,
	"internal/docgen":                     {"providers"},
	"internal/docgen/gen":                 {"internal/docgen", "providers/all"},
	"internal/etcdtest":                   nil,
	"internal/gctune":                     nil,
	"internal/golden":                     nil,
	"internal/graphviz":                   nil,
	"internal/labreg":                     nil,
	"internal/labview":                    {"config", "config/addr", "planner", "providers"},
	"internal/layers":                     nil,
	"internal/memprovider":                {"providers"},
	"internal/par":                        nil,
	"internal/systest":                    {"config", "config/addr", "internal/labreg", "planner", "providers", "state"},
	"internal/vboxsim":                    nil,
	"internal/vboxsim/VBoxManage":         {"internal/vboxsim"},
	"planner":                             {"checks", "config", "config/addr", "internal/ctyobj", "internal/labreg", "internal/par", "providers", "providers/labnet", "state"},
	"planner/render":                      {"config/addr", "internal/par", "planner", "providers"},
	"providers":                           {"internal/ctyobj"},
	"providers/all":                       {"providers", "providers/container", "providers/link", "providers/mgmtnet", "providers/netfilter", "providers/qemu", "providers/remote", "providers/virtualbox"},
	"providers/cidata":                    {"providers"},
	"providers/container":                 {"internal/ctyobj", "providers", "providers/container/image", "providers/labnet", "providers/mgmtnet"},
	"providers/container/image":           {"providers/labnet"},
	"providers/container/image/imagetest": nil,
	"providers/labnet":                    {"providers"},
	"providers/link":                      {"providers", "providers/labnet"},
	"providers/mgmtnet":                   {"providers", "providers/labnet"},
	"providers/netfilter":                 {"internal/par", "providers", "providers/labnet"},
	"providers/remote":                    {"config/addr", "internal/agent", "internal/console", "providers", "providers/link"},
	"providers/qemu":                      {"internal/ctyobj", "providers", "providers/cidata", "providers/labnet", "providers/mgmtnet"},
	"providers/virtualbox":                {"internal/par", "providers", "providers/cidata", "providers/labnet", "providers/mgmtnet"},
	"state":                               nil,
	"state/etcd":                          {"state"},
}

func TestImportsFollowTheLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list %s...: %v", module, err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			want, ok := allowed[rel]
			if !ok {
				t.Fatalf("%s is not in the table: add it with the labform packages its doc.go allows", rel)
			}
			pkg, err := build.ImportDir(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(pkg.GoFiles, "doc.go") {
				t.Errorf("%s has no doc.go saying what it owns and what it must never import", rel)
			}
			for _, imp := range pkg.Imports {
				if p, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(want, p) {
					t.Errorf("%s imports %s, which its doc.go does not allow", rel, p)
				}
			}
		})
	}
}
