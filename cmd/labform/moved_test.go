package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stateShow returns `state show ADDR`.
func (c *cli) stateShow(address string) string {
	c.t.Helper()
	return c.must(0, "state", "show", address).out
}

// attrLine is the line of a state show that sets name.
func attrLine(t *testing.T, show, name string) string {
	t.Helper()
	for _, line := range strings.Split(show, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == name && f[1] == "=" {
			return strings.Join(f[2:], " ")
		}
	}
	t.Fatalf("no %s in:\n%s", name, show)
	return ""
}

// TestCLI_movedKeepsObjects applies the golden moved case's two labs: the
// moved objects keep their IDs and computed values, nothing is created or
// destroyed, a plan after the apply has no changes (the link and chain
// that named the old address were rewritten in state too), and the moved
// blocks may stay in the configuration.
func TestCLI_movedKeepsObjects(t *testing.T) {
	dir := "../../testdata/plans/moved"
	before, _ := os.ReadFile(filepath.Join(dir, "before.lab.hcl"))
	after, _ := os.ReadFile(filepath.Join(dir, "main.lab.hcl"))
	c := newCLI(t, map[string]string{"main.lab.hcl": string(before)})
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	objects := c.objects()
	oldShow := c.stateShow("container.r1")
	creates := c.mems["container"].Calls.Create.Load()
	deletes := c.mems["container"].Calls.Delete.Load()

	c.write(map[string]string{"main.lab.hcl": string(after)})
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "apply", r.out, `# container.r1 has moved to container.router["r1"]`, "0 to add, 1 to change, 0 to destroy")
	if got := c.objects(); got != objects {
		t.Errorf("%d objects after the moves, want %d", got, objects)
	}
	if c.mems["container"].Calls.Create.Load() != creates || c.mems["container"].Calls.Delete.Load() != deletes {
		t.Errorf("moves created or deleted containers")
	}
	newShow := c.stateShow(`container.router["r1"]`)
	for _, name := range []string{"pid", "netns"} {
		if o, n := attrLine(t, oldShow, name), attrLine(t, newShow, name); o != n {
			t.Errorf("%s changed with the move: %s -> %s", name, o, n)
		}
	}
	list := c.must(0, "state", "list").out
	for _, gone := range []string{"container.r1\n", "container.r2\n", "container.old[0]", "container.tmp"} {
		if strings.Contains(list, gone) {
			t.Errorf("state still lists %s:\n%s", gone, list)
		}
	}
	contains(t, "link in state", c.stateShow("link.r1_spine"), `container.router[\"r1\"]`)
	r = c.must(0, "plan", "-detailed-exitcode")
	contains(t, "plan after the moves", r.out, "No changes.")
}

// containerA and containerB are the smallest containers a lab can hold.
const (
	containerA = `
container "a" {
  rootfs = "rootfs"
}
`
	containerB = `
container "b" {
  rootfs = "rootfs"
}
`
)

// forgetHCL is a removed block that forgets from: its objects keep
// running, and labform no longer manages them.
func forgetHCL(from string) string {
	return fmt.Sprintf(`
removed {
  from = %s
  lifecycle {
    destroy = false
  }
}
`, from)
}

// TestCLI_movedConflicts: a move onto an address the state holds is an
// error that names both, and changes nothing.
func TestCLI_movedConflicts(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": containerA + containerB})
	c.must(0, "apply", "-auto-approve")
	c.write(map[string]string{"main.lab.hcl": `
moved {
  from = container.a
  to   = container.b
}` + containerB})
	r := c.must(1, "plan")
	contains(t, "plan", r.errOut, "Move destination already exists", "container.a to container.b", "main.lab.hcl line 4")
}

// TestCLI_removedForgets: destroy = false leaves the object running and
// takes it out of state; the next plan does not mention it.
func TestCLI_removedForgets(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": containerA + containerB})
	c.must(0, "apply", "-auto-approve")
	objects := c.objects()
	c.write(map[string]string{"main.lab.hcl": forgetHCL("container.a") + containerB})
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "apply", r.out, "container.a will no longer be managed by labform", "0 to destroy, 1 to forget")
	if got := c.objects(); got != objects {
		t.Errorf("%d objects, want %d: the forgotten one must keep running", got, objects)
	}
	if list := c.must(0, "state", "list").out; strings.Contains(list, "container.a") {
		t.Errorf("container.a still in state:\n%s", list)
	}
	contains(t, "plan", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
}

// TestCLI_movedFirewallChainKeepsItsName: a firewall chain is named after
// its resource on the host, so a move may change its key but not its name.
func TestCLI_movedFirewallChainKeepsItsName(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": `
firewall_chain "fw" {
  target = lab
  hooks  = ["INPUT"]
}
`})
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	c.write(map[string]string{"main.lab.hcl": `
moved {
  from = firewall_chain.fw
  to   = firewall_chain.other
}
firewall_chain "other" {
  target = lab
  hooks  = ["INPUT"]
}
`})
	contains(t, "rename", c.must(1, "plan").errOut, "Cannot move to another name", "named after its resource")
	c.write(map[string]string{"main.lab.hcl": `
moved {
  from = firewall_chain.fw
  to   = firewall_chain.fw["a"]
}
firewall_chain "fw" {
  for_each = toset(["a"])
  target   = lab
  hooks    = ["INPUT"]
}
`})
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "key", r.out, `# firewall_chain.fw has moved to firewall_chain.fw["a"]`, "0 to add, 0 to change, 0 to destroy")
}

// TestCLI_movedSavedPlan: a saved plan carries its moves; applying it
// relabels the records, and a plan after it is empty.
func TestCLI_movedSavedPlan(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": `
container "a" {
  rootfs = "rootfs"
}
`})
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	c.write(map[string]string{"main.lab.hcl": `
moved {
  from = container.a
  to   = container.b[0]
}
container "b" {
  count  = 1
  rootfs = "rootfs"
}
`})
	c.must(2, "plan", "-detailed-exitcode", "-out=moves.plan")
	c.must(0, "apply", "moves.plan")
	if list := c.must(0, "state", "list").out; strings.TrimSpace(list) != "container.b[0]" {
		t.Fatalf("state after the saved plan: %q", list)
	}
	contains(t, "plan", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
}

// TestCLI_implicitMoveToCount: a resource that gains count keeps its
// object as index 0 without a moved block, as in Terraform, and loses it
// back when count goes.
func TestCLI_implicitMoveToCount(t *testing.T) {
	one := "container \"a\" {\n  rootfs = \"rootfs\"\n}\n"
	counted := "container \"a\" {\n  count  = 2\n  rootfs = \"rootfs\"\n}\n"
	c := newCLI(t, map[string]string{"main.lab.hcl": one})
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	c.write(map[string]string{"main.lab.hcl": counted})
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "count added", r.out, "# container.a has moved to container.a[0]", "1 to add, 0 to change, 0 to destroy")
	c.write(map[string]string{"main.lab.hcl": one})
	r = c.must(0, "apply", "-auto-approve")
	contains(t, "count removed", r.out, "# container.a[0] has moved to container.a", "0 to add, 0 to change, 1 to destroy")
	contains(t, "plan", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
}

// TestCLI_stateMvRenamesReferences: state mv renames the address in the
// records that name it (a link's endpoints, a chain's target), so that
// the configuration written with the new name plans no change.
func TestCLI_stateMvRenamesReferences(t *testing.T) {
	lab := func(name string) string {
		return strings.ReplaceAll(`
container "NAME" {
  rootfs = "rootfs"
  ports  = 1
}
container "b" {
  rootfs = "rootfs"
  ports  = 1
}
link "l" {
  endpoints = [container.NAME.port[0], container.b.port[0]]
}
firewall_chain "in" {
  target = container.NAME
  hooks  = ["INPUT"]
}
`, "NAME", name)
	}
	c := newCLI(t, map[string]string{"main.lab.hcl": lab("a")})
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	c.must(0, "state", "mv", "container.a", "container.renamed")
	c.write(map[string]string{"main.lab.hcl": lab("renamed")})
	contains(t, "plan", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
}

// TestCLI_movedRefreshOnly: a refresh-only plan lists the moves it would
// record, and its detailed exit code says there is something to apply.
func TestCLI_movedRefreshOnly(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": "container \"a\" {\n  rootfs = \"rootfs\"\n}\n"})
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	c.write(map[string]string{"main.lab.hcl": "moved {\n  from = container.a\n  to   = container.b\n}\ncontainer \"b\" {\n  rootfs = \"rootfs\"\n}\n"})
	r := c.must(2, "plan", "-refresh-only", "-detailed-exitcode")
	contains(t, "refresh-only", r.out, "# container.a has moved to container.b", "record the moves")
	c.must(0, "apply", "-refresh-only", "-auto-approve")
	contains(t, "plan", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
}
