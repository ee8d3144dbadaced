package config_test

import (
	"testing"

	"github.com/labform/labform/config/addr"
)

// TestDependsOnAlone: depends_on on a resource that no expression of the
// block mentions is a dependency (it once failed with "There is no
// variable named container").
func TestDependsOnAlone(t *testing.T) {
	d := evalSource(t, `
container "db" {
  rootfs = "rootfs"
}
container "app" {
  rootfs     = "rootfs"
  depends_on = [container.db]
}`)
	app := d.Instances[addr.Resource{Type: "container", Name: "app"}.Instance(addr.Key{})]
	want := addr.Resource{Type: "container", Name: "db"}.Instance(addr.Key{})
	if app == nil || len(app.Deps) != 1 || app.Deps[0] != want {
		t.Fatalf("deps of container.app: %v", app)
	}
}
