package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
)

// runByHand runs a busybox container with runc under a root of the
// test's own, as a user would without labform, and returns the root.
func runByHand(t *testing.T, l *sysLab, id, hostname string) string {
	t.Helper()
	root := fmt.Sprintf("/run/lfimp%d", os.Getpid()%100000)
	bundle := t.TempDir()
	if out, err := exec.Command("runc", "spec", "-b", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	var spec map[string]any
	b, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"sleep", "3600"}
	proc["env"] = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	spec["root"] = map[string]any{"path": filepath.Join(l.Dir, "rootfs"), "readonly": false}
	spec["hostname"] = hostname
	// A network node's capabilities, as labform gives them by default, so
	// that only what the test changes differs.
	proc["capabilities"] = map[string]any{"bounding": defaultCapabilities, "effective": defaultCapabilities, "permitted": defaultCapabilities}
	b, _ = json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("runc", "--root", root, "delete", "-f", id).Run()
		os.RemoveAll(root)
	})
	// Its output on a file, never a pipe: the detached container keeps
	// what it inherits open.
	f, err := os.CreateTemp(t.TempDir(), "runc")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("runc", "--root", root, "run", "-d", "-b", bundle, id)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(f.Name())
		t.Fatalf("runc run: %v: %s", err, out)
	}
	return root
}

// TestSystem_importContainer adopts a container run by hand with runc
// under its own root: a configuration that differs in what runc's spec
// shows (the hostname) plans a replacement; one that matches plans only
// the ports and addresses labform adds, in place, keeping the process;
// the next plan is empty; destroy removes the container from its root.
func TestSystem_importContainer(t *testing.T) {
	l := newSysLab(t)
	const id = "byhand"
	root := runByHand(t, l, id, "byhand")
	t.Cleanup(func() { labnet.DeleteNetns(nameFor(l.ID("container.web")).netns) })
	pid := func() int {
		out, err := exec.Command("runc", "--root", root, "state", id).Output()
		if err != nil {
			return 0
		}
		var st containerState
		json.Unmarshal(out, &st)
		return st.Pid
	}
	before := pid()
	write := func(hostname string) {
		l.Write(fmt.Sprintf(`
container "web" {
  rootfs   = "rootfs"
  command  = ["sleep", "3600"]
  hostname = %q
  ports    = 1
  addresses = {
    eth0 = ["10.205.0.1/24"]
  }
}

import {
  to = container.web
  id = "%s:%s"
}
`, hostname, root, id))
	}
	write("other")
	_, plan := l.Plan(planner.NormalMode)
	if got := actionOf(plan, "container.web"); got != "replace/replace" {
		t.Fatalf("with another hostname: %s, want replace", got)
	}
	write("byhand")
	_, plan = l.Plan(planner.NormalMode)
	if got := actionOf(plan, "container.web"); got != "update/in-place" || len(plan.Imports) != 1 {
		t.Fatalf("with the same spec: %s (%d imports), want an in-place update", got, len(plan.Imports))
	}
	l.Apply(planner.NormalMode)
	if after := pid(); after != before || after == 0 {
		t.Errorf("pid %d before the import, %d after", before, after)
	}
	out, err := exec.Command("ip", "-n", nameFor(l.ID("container.web")).netns, "addr", "show", "eth0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.205.0.1/24") {
		t.Errorf("eth0 in the adopted container: %v\n%s", err, out)
	}
	if _, plan := l.Plan(planner.NormalMode); plan.HasChanges() {
		t.Errorf("a plan after the import's apply has changes: %s", actionOf(plan, "container.web"))
	}
	// exec, console and status reach it under its own runc root and id.
	rec, err := l.Store.Get("container.web")
	if err != nil || rec == nil {
		t.Fatalf("no record of container.web: %v", err)
	}
	p, _ := l.Plan(planner.NormalMode)
	v, _, err := planner.DecodeRecord(l.Reg, rec.Type, rec.Provider, rec.Value)
	if err != nil {
		t.Fatal(err)
	}
	dreq := providers.DescribeRequest{Lab: p.LabInfo("container"), Type: "container", Addr: "container.web", ID: rec.ID, Private: rec.Private, Value: v}
	if d := l.prov.Describe(dreq); d.RuntimeRoot != root || d.RuntimeID != id {
		t.Errorf("status names runc root %q id %q, want %q %q", d.RuntimeRoot, d.RuntimeID, root, id)
	}
	var said bytes.Buffer
	if code, err := l.prov.Exec(context.Background(), providers.ExecRequest{DescribeRequest: dreq, Argv: []string{"cat", "/proc/sys/kernel/hostname"}, Stdout: &said, Stderr: &said}); err != nil || code != 0 || strings.TrimSpace(said.String()) != "byhand" {
		t.Errorf("exec in the adopted container: exit %d, %v, %q", code, err, said.String())
	}
	l.Apply(planner.DestroyMode)
	if exec.Command("runc", "--root", root, "state", id).Run() == nil {
		t.Error("the container is still there after destroy")
	}
}
