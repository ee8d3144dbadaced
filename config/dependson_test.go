package config_test

import (
	"path/filepath"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers/all"
)

// TestDependsOnAlone: a resource that names another only in depends_on
// evaluates, and depends on it.
func TestDependsOnAlone(t *testing.T) {
	for _, src := range []string{
		`container "server" { rootfs = "r" }
container "client" {
  rootfs     = "r"
  depends_on = [container.server]
}`,
		`container "server" {
  count  = 2
  rootfs = "r"
}
container "client" {
  count      = 2
  rootfs     = "r"
  depends_on = [container.server]
}`,
	} {
		l := config.NewLab(t.TempDir(), all.Registry())
		diags := l.AddFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(src))
		diags = append(diags, l.Check()...)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		d, diags := config.Evaluate(l, config.NewInputs(), nil)
		if diags.HasErrors() {
			t.Fatalf("%s\n%s", src, diags.Error())
		}
		for a, inst := range d.Instances {
			if a.Resource.Name != "client" {
				continue
			}
			found := false
			for _, dep := range inst.Deps {
				found = found || dep.Resource == (addr.Resource{Type: "container", Name: "server"})
			}
			if !found {
				t.Errorf("%s does not depend on container.server: %v", a, inst.Deps)
			}
		}
	}
}
