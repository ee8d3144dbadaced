package virtualbox

import (
	"strings"
	"testing"

	"github.com/labform/labform/planner"
	"github.com/zclconf/go-cty/cty"
)

// TestSystem_importVM adopts a VM made with VBoxManage outside labform, by
// its UUID: the plan imports it and shows only how it differs from the
// configuration (memory, its adapters not wired to the lab), apply marks
// it as labform's and repairs that, the next plan is empty, and destroy
// deletes it (it is marked now) but never the template.
func TestSystem_importVM(t *testing.T) {
	l := newVBLab(t, "imp")
	l.vbox("clonevm", l.tpl, "--name", "byhand", "--register")
	l.vbox("modifyvm", "byhand", "--memory", "512", "--cpus", "2")
	uuid := parseMachineReadable(l.vbox("showvminfo", "byhand", "--machinereadable"))["UUID"]
	l.Write(`
provider "virtualbox" {
  vboxmanage = "` + l.sim + `"
}

vm "r" {
  provider = virtualbox
  template = "` + l.tpl + `"
  memory   = 256
  cpus     = 2
  adapters = 1
  state    = "stopped"
}

import {
  to = vm.r
  id = "` + uuid + `"
}
`)
	_, plan := l.Plan(planner.NormalMode)
	if len(plan.Imports) != 1 {
		t.Fatalf("imports: %d", len(plan.Imports))
	}
	c := l.change(plan)
	if c == nil || c.Action != planner.Update || c.ImportedFrom != uuid {
		t.Fatalf("vm.r's change: %+v", c)
	}
	var forced []string
	for _, f := range c.ForcedBy {
		if len(f.Path) > 0 {
			if step, ok := f.Path[0].(cty.GetAttrStep); ok {
				forced = append(forced, step.Name)
			}
		}
	}
	if got := strings.Join(forced, " "); !strings.Contains(got, "memory") || !strings.Contains(got, "state") || strings.Contains(got, "cpus") {
		t.Errorf("the plan changes %s; want memory and state (the adapters), not cpus", got)
	}
	l.Apply(planner.NormalMode)
	info := parseMachineReadable(l.vbox("showvminfo", "byhand", "--machinereadable"))
	if info["memory"] != "256" {
		t.Errorf("memory after apply: %s", info["memory"])
	}
	if out := l.vbox("getextradata", "byhand", "labform/id"); !strings.Contains(out, l.ID("vm.r")) {
		t.Errorf("the adopted VM is not marked: %s", out)
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Errorf("a plan after the import's apply has changes: %+v", l.change(plan))
	}
	l.Apply(planner.DestroyMode)
	list := l.vbox("list", "vms")
	if strings.Contains(list, `"byhand"`) || !strings.Contains(list, `"`+l.tpl+`"`) {
		t.Errorf("after destroy: %s", list)
	}
}
