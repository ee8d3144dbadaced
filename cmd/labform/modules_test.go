package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/providers/all"
)

// podLab is the golden modules case: a pod module used three times with
// count, linked to a core container through the pod's output.
func podLab(t *testing.T) map[string]string {
	t.Helper()
	dir := "../../testdata/plans/modules"
	files := moduleFiles(t, dir)
	main, err := os.ReadFile(filepath.Join(dir, "main.lab.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	files["main.lab.hcl"] = string(main)
	return files
}

// TestCLI_modulesApply applies the pod lab: every instance of every module
// instance is created once, links reach the module's containers by their
// full addresses, the outputs read the modules' outputs, and a second plan
// has nothing to do.
func TestCLI_modulesApply(t *testing.T) {
	c := newCLI(t, podLab(t))
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "apply", r.out, "17 added, 0 changed, 0 destroyed")
	list := c.must(0, "state", "list").out
	for _, a := range []string{"module.pod[0].container.leaf[1]", "module.pod[2].container.spine", "module.pod[1].link.leaf[0]", "link.uplink[2]"} {
		contains(t, "state list", list, a+"\n")
	}
	if strings.Contains(list, "module.pod[2].container.leaf[1]") {
		t.Errorf("pod 2 has one leaf, the state lists a second:\n%s", list)
	}
	contains(t, "link to a module's container", c.stateShow("link.uplink[1]"), "module.pod[1].container.spine")
	contains(t, "outputs", c.must(0, "output", "leaves").out, "pod2-leaf0")
	contains(t, "second plan", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
	contains(t, "state list of a module instance", c.must(0, "state", "list", "module.pod[1]").out, "module.pod[1].container.spine\n")

	// One pod fewer: its instances are destroyed, links first.
	files := podLab(t)
	c.write(map[string]string{"main.lab.hcl": strings.Replace(strings.Replace(files["main.lab.hcl"], "count  = 3", "count  = 2", 1), "count     = 3", "count     = 2", 1)})
	r = c.must(0, "apply", "-auto-approve")
	contains(t, "apply with two pods", r.out, "module.pod[2].container.spine will be destroyed", "module.pod[2].link.leaf[0] will be destroyed",
		"0 added, 0 changed, 4 destroyed")
	if strings.Index(r.out, "module.pod[2].link.leaf[0]: Destroying") > strings.Index(r.out, "module.pod[2].container.spine: Destroying") {
		t.Errorf("the spine was destroyed before its link:\n%s", r.out)
	}
	if list := c.must(0, "state", "list").out; strings.Contains(list, "module.pod[2]") {
		t.Errorf("state still lists pod 2:\n%s", list)
	}
}

// TestCLI_modulesTarget: -target module.pod[1] plans that module instance
// only; -target of one resource in it, that resource; -exclude leaves the
// instance out; -replace takes a module address.
func TestCLI_modulesTarget(t *testing.T) {
	c := newCLI(t, podLab(t))
	r := c.must(0, "plan", "-target=module.pod[1]")
	contains(t, "target a module instance", r.out, "module.pod[1].container.spine will be created", "module.pod[1].link.leaf[1] will be created", "Plan: 5 to add")
	for _, other := range []string{"module.pod[0].", "module.pod[2].", "container.core will", "link.uplink"} {
		if strings.Contains(r.out, other) {
			t.Errorf("-target=module.pod[1] planned %s:\n%s", other, r.out)
		}
	}
	r = c.must(0, "plan", "-target=module.pod[1].container.leaf[0]")
	contains(t, "target a resource in a module", r.out, "module.pod[1].container.leaf[0] will be created", "Plan: 1 to add")
	r = c.must(0, "plan", "-exclude=module.pod")
	contains(t, "exclude every pod", r.out, "container.core will be created", "Plan: 1 to add")

	c.must(0, "apply", "-auto-approve")
	r = c.must(0, "plan", "-replace=module.pod[2].container.leaf[0]")
	contains(t, "replace in a module", r.out, "module.pod[2].container.leaf[0] must be replaced", "1 to add, 1 to change, 1 to destroy")
}

// TestCLI_modulesStateMv moves a root container into a module instance
// with state mv: the object keeps its ID and the plan of the lab that
// declares it in the module has nothing to do.
func TestCLI_modulesStateMv(t *testing.T) {
	files := podLab(t)
	files["main.lab.hcl"] = `
module "pod" {
  source = "./modules/pod"
  name   = "pod0"
  leaves = 1
}
`
	c := newCLI(t, map[string]string{"main.lab.hcl": `
container "spine" {
  rootfs   = "rootfs"
  hostname = "pod0-spine"
  ports    = 2
}
`})
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	before := attrLine(t, c.stateShow("container.spine"), "pid")
	c.must(0, "state", "mv", "container.spine", "module.pod.container.spine")
	c.write(files)
	after := attrLine(t, c.stateShow("module.pod.container.spine"), "pid")
	if before != after {
		t.Errorf("pid changed with state mv: %s -> %s", before, after)
	}
	r := c.must(0, "plan")
	contains(t, "plan after state mv", r.out, "Plan: 2 to add, 0 to change, 0 to destroy")
	if strings.Contains(r.out, "module.pod.container.spine will") {
		t.Errorf("the moved spine is planned again:\n%s", r.out)
	}
}

// TestCLI_movedIntoModule: a moved block from a root container to a
// module instance's keeps the object (no create, no delete, same pid), and
// one back out of the module keeps it again.
func TestCLI_movedIntoModule(t *testing.T) {
	files := podLab(t)
	files["main.lab.hcl"] = `
container "leaf" {
  rootfs   = "rootfs"
  hostname = "pod0-leaf0"
  ports    = 1
}
`
	c := newCLI(t, files)
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	pid := attrLine(t, c.stateShow("container.leaf"), "pid")
	creates := c.mems["container"].Calls.Create.Load()
	deletes := c.mems["container"].Calls.Delete.Load()

	c.write(map[string]string{"main.lab.hcl": `
module "pod" {
  source = "./modules/pod"
  count  = 1
  name   = "pod${count.index}"
  leaves = 1
}

moved {
  from = container.leaf
  to   = module.pod[0].container.leaf[0]
}
`})
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "apply into the module", r.out, "# container.leaf has moved to module.pod[0].container.leaf[0]", "2 added, 0 changed, 0 destroyed")
	if got := attrLine(t, c.stateShow("module.pod[0].container.leaf[0]"), "pid"); got != pid {
		t.Errorf("pid changed with the move: %s -> %s", pid, got)
	}
	if c.mems["container"].Calls.Delete.Load() != deletes || c.mems["container"].Calls.Create.Load() != creates+1 {
		t.Errorf("the move deleted or created the leaf (creates %d -> %d, deletes %d -> %d)",
			creates, c.mems["container"].Calls.Create.Load(), deletes, c.mems["container"].Calls.Delete.Load())
	}

	c.write(map[string]string{"main.lab.hcl": `
module "pod" {
  source = "./modules/pod"
  count  = 1
  name   = "pod${count.index}"
  leaves = 0
}

container "leaf" {
  rootfs   = "rootfs"
  hostname = "pod0-leaf0"
  ports    = 1
}

moved {
  from = module.pod[0].container.leaf[0]
  to   = container.leaf
}
`})
	r = c.must(0, "apply", "-auto-approve")
	contains(t, "apply out of the module", r.out, "# module.pod[0].container.leaf[0] has moved to container.leaf")
	if got := attrLine(t, c.stateShow("container.leaf"), "pid"); got != pid {
		t.Errorf("pid changed with the move out: %s -> %s", pid, got)
	}
}

// TestCLI_modulesKnownAfterApply: a value known only after apply crosses
// module boundaries both ways: into a module through a variable, out
// of it through an output, to a resource and to the lab's outputs.
func TestCLI_modulesKnownAfterApply(t *testing.T) {
	c := newCLI(t, map[string]string{
		"main.lab.hcl": `
container "core" {
  rootfs = "rootfs"
}

module "pod" {
  source = "./modules/pod"
  peer   = container.core.netns
}

container "edge" {
  rootfs = "rootfs"
  env = {
    SPINE = module.pod.spine_netns
  }
}

output "spine_pid" {
  value = module.pod.spine_pid
}
`,
		"modules/pod/main.lab.hcl": `
variable "peer" {
  type = string
}

container "spine" {
  rootfs = "rootfs"
  env = {
    PEER = var.peer
  }
}

output "spine_netns" {
  value = container.spine.netns
}

output "spine_pid" {
  value = container.spine.pid
}
`})
	r := c.must(0, "plan")
	contains(t, "plan", r.out, "module.pod.container.spine will be created", `"PEER" = (known after apply)`)
	c.must(0, "apply", "-auto-approve")
	core := attrLine(t, c.stateShow("container.core"), "netns")
	spine := c.stateShow("module.pod.container.spine")
	contains(t, "spine's env", spine, `"PEER" = `+core)
	contains(t, "edge's env", c.stateShow("container.edge"), `"SPINE" = `+attrLine(t, spine, "netns"))
	contains(t, "output", c.must(0, "output", "spine_pid").out, attrLine(t, spine, "pid"))
	contains(t, "second plan", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
}

// TestExamplePods validates examples/pods with the real providers, plans
// it in memory (the lab's output reads the pods' outputs) and draws it:
// every node of every pod is a vertex under its full address.
func TestExamplePods(t *testing.T) {
	var out, errOut strings.Builder
	f := false
	if code := run([]string{"-chdir=../../examples/pods", "validate"}, all.Registry(), stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &f}); code != 0 {
		t.Fatalf("validate examples/pods: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	files := moduleFiles(t, "../../examples/pods")
	main, err := os.ReadFile("../../examples/pods/main.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	files["main.lab.hcl"] = string(main)
	c := newCLI(t, files)
	r := c.must(0, "plan")
	contains(t, "plan", r.out, "Plan: 19 to add", `"10.1.0.2"`, `"10.3.1.2"`, `hostname        = "pod2-leaf1"`)
	checkGolden(t, "../../testdata/topology/pods.dot.golden", c.must(0, "graph", "-format=dot").out)
	checkGolden(t, "../../testdata/topology/pods.mmd.golden", c.must(0, "graph", "-format", "mermaid").out)
}

// TestCLI_modulesGainCount: a module call that gains count moves its
// objects to instance [0] without a moved block, as in Terraform, and
// back when it loses it.
func TestCLI_modulesGainCount(t *testing.T) {
	files := podLab(t)
	one := "module \"pod\" {\n  source = \"./modules/pod\"\n  name   = \"pod0\"\n  leaves = 1\n}\n"
	files["main.lab.hcl"] = one
	c := newCLI(t, files)
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	pid := attrLine(t, c.stateShow("module.pod.container.spine"), "pid")
	c.write(map[string]string{"main.lab.hcl": strings.Replace(one, "\n  name", "\n  count  = 1\n  name", 1)})
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "gain count", r.out, "# module.pod.container.spine has moved to module.pod[0].container.spine", "0 added, 0 changed, 0 destroyed")
	if got := attrLine(t, c.stateShow("module.pod[0].container.spine"), "pid"); got != pid {
		t.Errorf("pid changed: %s -> %s", pid, got)
	}
	c.write(map[string]string{"main.lab.hcl": one})
	r = c.must(0, "apply", "-auto-approve")
	contains(t, "lose count", r.out, "# module.pod[0].link.leaf[0] has moved to module.pod.link.leaf[0]", "0 added, 0 changed, 0 destroyed")
}

// TestCLI_modulesRemoved: a removed block for a module call that left the
// configuration forgets every object of all its instances (destroy =
// false); one that is still declared is an error.
func TestCLI_modulesRemoved(t *testing.T) {
	c := newCLI(t, podLab(t))
	c.must(0, "apply", "-auto-approve")
	c.write(map[string]string{"main.lab.hcl": `
lab {
  name = "golden"
}

module "pod" {
  source = "./modules/pod"
  name   = "x"
}
` + forgetHCL("module.pod")})
	r := c.must(1, "plan")
	contains(t, "removed module still declared", r.errOut, "Removed module still exists")
	c.write(map[string]string{"main.lab.hcl": `
lab {
  name = "golden"
}

container "core" {
  rootfs   = "rootfs"
  hostname = "core"
  ports    = 3
}
` + forgetHCL("module.pod") + forgetHCL("link.uplink")})
	r = c.must(0, "apply", "-auto-approve")
	contains(t, "forget the pods", r.out, "# module.pod[1].container.spine will no longer be managed by labform", "0 to destroy, 16 to forget")
	if list := c.must(0, "state", "list").out; strings.TrimSpace(list) != "container.core" {
		t.Errorf("state after forgetting the pods:\n%s", list)
	}
}

// TestCLI_modulesImport: import blocks and the import command take a
// module address; the adopted object is then managed in its module.
func TestCLI_modulesImport(t *testing.T) {
	files := podLab(t)
	files["main.lab.hcl"] = `
module "pod" {
  source = "./modules/pod"
  count  = 2
  name   = "pod${count.index}"
  leaves = 0
}

import {
  to = module.pod[0].container.spine
  id = "outside/container.spine"
}
`
	c := newCLI(t, files)
	for _, m := range c.mems {
		m.ByID = true
	}
	makeOutside(t, c, []byte(`
container "spine" {
  rootfs   = "rootfs"
  hostname = "pod0-spine"
  ports    = 1
}
`))
	r := c.must(0, "plan")
	contains(t, "import block", r.out, `# module.pod[0].container.spine will be imported from "outside/container.spine"`, "Plan: 1 to import, 1 to add")
	files["main.lab.hcl"] = files["main.lab.hcl"][:strings.Index(files["main.lab.hcl"], "import {")]
	c.write(files)
	r = c.must(0, "import", "module.pod[0].container.spine", "outside/container.spine")
	contains(t, "import command", r.out, "Import successful!")
	r = c.must(1, "import", "module.pod[5].container.spine", "outside/container.spine")
	contains(t, "import to an instance the configuration lacks", r.errOut, "module.pod[5].container.spine")
	contains(t, "plan after import", c.must(0, "plan").out, "Plan: 1 to add, 0 to change, 0 to destroy")
}

// TestCLI_movedModule: moved blocks between module addresses keep every
// object: a call renamed (module.pod to module.pods, keys kept), and one
// instance taken out of a count (module.pods[1] to module.single).
func TestCLI_movedModule(t *testing.T) {
	files := podLab(t)
	files["main.lab.hcl"] = "module \"pod\" {\n  source = \"./modules/pod\"\n  count  = 2\n  name   = \"pod${count.index}\"\n  leaves = 1\n}\n"
	c := newCLI(t, files)
	for _, m := range c.mems {
		m.ByID = true
	}
	c.must(0, "apply", "-auto-approve")
	pid := attrLine(t, c.stateShow("module.pod[1].container.leaf[0]"), "pid")
	c.write(map[string]string{"main.lab.hcl": `
module "pods" {
  source = "./modules/pod"
  count  = 2
  name   = "pod${count.index}"
  leaves = 1
}

moved {
  from = module.pod
  to   = module.pods
}
`})
	r := c.must(0, "apply", "-auto-approve")
	contains(t, "rename the call", r.out, "# module.pod[1].container.leaf[0] has moved to module.pods[1].container.leaf[0]", "0 added, 0 changed, 0 destroyed")
	c.write(map[string]string{"main.lab.hcl": `
module "pods" {
  source = "./modules/pod"
  count  = 1
  name   = "pod${count.index}"
  leaves = 1
}

module "single" {
  source = "./modules/pod"
  name   = "pod1"
  leaves = 1
}

moved {
  from = module.pods[1]
  to   = module.single
}
`})
	r = c.must(0, "apply", "-auto-approve")
	contains(t, "take one instance out", r.out, "# module.pods[1].container.spine has moved to module.single.container.spine", "0 added, 0 changed, 0 destroyed")
	if got := attrLine(t, c.stateShow("module.single.container.leaf[0]"), "pid"); got != pid {
		t.Errorf("pid changed with the moves: %s -> %s", pid, got)
	}
	c.write(map[string]string{"main.lab.hcl": "module \"single\" {\n  source = \"./modules/pod\"\n  name   = \"pod1\"\n  leaves = 1\n}\n\nmoved {\n  from = module.single\n  to   = container.x\n}\n"})
	contains(t, "module to resource", c.must(1, "plan").errOut, "Module and resource mismatch")
	c.write(map[string]string{"main.lab.hcl": "module \"single\" {\n  source = \"./modules/pod\"\n  name   = \"pod1\"\n  leaves = 1\n}\n\nmoved {\n  from = module.single\n  to   = module.other\n}\n"})
	contains(t, "from still declared", c.must(1, "plan").errOut, "Moved object still exists")
}

// TestCLI_stateMvModule: state mv of a module address moves every
// instance in it (and what refers to them); a module to a resource
// address is refused.
func TestCLI_stateMvModule(t *testing.T) {
	c := newCLI(t, podLab(t))
	c.must(0, "apply", "-auto-approve")
	r := c.must(0, "state", "mv", "module.pod", "module.pods")
	contains(t, "state mv of a call", r.out, "Successfully moved 13 object(s).")
	contains(t, "the uplink names the new address", c.stateShow("link.uplink[1]"), "module.pods[1].container.spine")
	r = c.must(0, "state", "mv", "module.pods[2]", "module.single")
	contains(t, "state mv of an instance", r.out, "Successfully moved 3 object(s).")
	list := c.must(0, "state", "list").out
	contains(t, "state list", list, "module.single.container.leaf[0]\n", "module.pods[1].link.leaf[1]\n")
	if strings.Contains(list, "module.pod[") || strings.Contains(list, "module.pods[2]") {
		t.Errorf("old addresses left:\n%s", list)
	}
	contains(t, "module to resource", c.must(1, "state", "mv", "module.single", "container.x").errOut, "a module moves to a module address")
	contains(t, "nothing there", c.must(1, "state", "mv", "module.nope", "module.other").errOut, "no instance of module.nope in state")
	contains(t, "destination taken", c.must(1, "state", "mv", "module.pods[0]", "module.pods[1]").errOut, "already exists in state")
}

// TestCLI_modulesSavedPlan: a saved plan of a lab with modules applies
// as planned, and the lab then matches it.
func TestCLI_modulesSavedPlan(t *testing.T) {
	c := newCLI(t, podLab(t))
	c.must(0, "plan", "-out=first.plan")
	r := c.must(0, "apply", "first.plan")
	contains(t, "apply a saved plan", r.out, "17 added, 0 changed, 0 destroyed")
	contains(t, "plan after it", c.must(0, "plan", "-detailed-exitcode").out, "No changes.")
}

// TestCLI_modulesSensitive: a sensitive variable stays sensitive through a
// module: in the module's resources, in its outputs, and in the lab's
// outputs, which must say sensitive = true.
func TestCLI_modulesSensitive(t *testing.T) {
	pod := `
variable "token" {
  type      = string
  sensitive = true
}

container "c" {
  rootfs = "rootfs"
  env = {
    TOKEN = var.token
  }
}

output "token" {
  value     = var.token
  sensitive = true
}
`
	c := newCLI(t, map[string]string{"modules/pod/main.lab.hcl": pod, "main.lab.hcl": `
module "pod" {
  source = "./modules/pod"
  token  = "s3cret"
}

output "token" {
  value = module.pod.token
}
`})
	contains(t, "unmarked output", c.must(1, "plan").errOut, "Output refers to sensitive values")
	c.write(map[string]string{"main.lab.hcl": `
module "pod" {
  source = "./modules/pod"
  token  = "s3cret"
}

output "token" {
  value     = module.pod.token
  sensitive = true
}
`})
	r := c.must(0, "plan")
	contains(t, "plan", r.out, "(sensitive value)")
	if strings.Contains(r.out, "s3cret") {
		t.Errorf("the plan shows the secret:\n%s", r.out)
	}
}
