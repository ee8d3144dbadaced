package main

import (
	"os"
	"strings"
	"testing"
)

const webLab = `
container "web" {
  rootfs   = "rootfs"
  hostname = "web"
  ports    = 1
}
`

// TestCLI_importCommand: `labform import ADDR ID` records the object and
// changes nothing on the host; the next plan shows only how the object
// differs from the configuration (here a hostname, which replaces it).
func TestCLI_importCommand(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": webLab})
	for _, m := range c.mems {
		m.ByID = true
	}
	makeOutside(t, c, []byte(strings.Replace(webLab, `hostname = "web"`, `hostname = "web-by-hand"`, 1)))
	creates := c.mems["container"].Calls.Create.Load()
	r := c.must(0, "import", "container.web", "outside/container.web")
	contains(t, "import", r.out, "container.web: Import prepared!", "Import successful!")
	if c.mems["container"].Calls.Create.Load() != creates || c.mems["container"].Calls.Update.Load() != 0 {
		t.Error("import changed something on the host")
	}
	contains(t, "state list", c.must(0, "state", "list").out, "container.web")
	show := c.stateShow("container.web")
	contains(t, "state show", show, "web-by-hand")
	r = c.must(2, "plan", "-detailed-exitcode")
	contains(t, "plan after import", r.out, `"web-by-hand" -> "web" # forces replacement`, "1 to add, 0 to change, 1 to destroy")

	r = c.must(1, "import", "container.web", "outside/container.web")
	contains(t, "import twice", r.errOut, "Resource already managed", "labform state rm container.web")
	r = c.must(1, "import", "container.nope", "outside/container.web")
	contains(t, "import to an undeclared resource", r.errOut, "container.nope")
	c.must(0, "state", "rm", "container.web")
	r = c.must(1, "import", "container.web", "outside/container.missing")
	contains(t, "import of a missing object", r.errOut, "Cannot import container.web", `no object "outside/container.missing"`)
}

// TestCLI_importBlock: an import block adopts the object at apply; the
// plan after it has no changes, and the block may stay.
func TestCLI_importBlock(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": webLab + `
import {
  to = container.web
  id = "outside/container.web"
}
`})
	for _, m := range c.mems {
		m.ByID = true
	}
	makeOutside(t, c, []byte(webLab))
	objects := c.objects()
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "apply", r.out, `# container.web will be imported from "outside/container.web"`, "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy.")
	if got := c.objects(); got != objects {
		t.Errorf("%d objects after the import, want %d", got, objects)
	}
	contains(t, "plan", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
	if _, err := os.Stat(c.statePath()); err != nil {
		t.Fatal(err)
	}
}
