package link_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
)

// TestSystem_importLink adopts a bridge made by hand with ip in the lab's
// namespace, with one of the two configured ports joined to it: the plan
// imports it and shows the missing endpoint, apply joins it in place (the
// bridge keeps its name) and traffic flows, the next plan is empty, and
// taking the link out of the files deletes that bridge.
func TestSystem_importLink(t *testing.T) {
	l := newNetLab(t)
	two := twoHosts
	l.Write(two)
	l.Apply(planner.NormalMode)
	labNS := providers.LabNetns(l.Name)
	bridge := fmt.Sprintf("lfib%d", os.Getpid()%100000)
	for _, args := range [][]string{
		{"-n", labNS, "link", "add", bridge, "type", "bridge"},
		{"-n", labNS, "link", "set", bridge, "up"},
		{"-n", labNS, "link", "set", labnet.PortName(l.ID("container.a"), 0), "master", bridge},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	l.Write(two + `
link "l" {
  endpoints = [container.a.port[0], container.b.port[0]]
}

import {
  to = link.l
  id = "` + labNS + `:` + bridge + `"
}
`)
	_, plan := l.plan()
	if len(plan.Imports) != 1 {
		t.Fatalf("imports: %d", len(plan.Imports))
	}
	if got := action(plan, "link.l"); got != "update" {
		t.Fatalf("link.l: %s, want update (container.b's port joined)", got)
	}
	l.Apply(planner.NormalMode)
	if !l.ping("container.a", "10.203.0.2") {
		t.Error("a cannot ping b over the imported bridge")
	}
	if _, plan := l.plan(); plan.HasChanges() {
		t.Errorf("a plan after the import's apply has changes: link.l %s", action(plan, "link.l"))
	}
	l.Write(two)
	l.Apply(planner.NormalMode)
	if err := exec.Command("ip", "-n", labNS, "link", "show", bridge).Run(); err == nil {
		t.Errorf("bridge %s is still there after the link was taken out", bridge)
	}
}
