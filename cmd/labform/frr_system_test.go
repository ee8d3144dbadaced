package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
)

// TestSystem_frrExample runs examples/frr as its README says: setup.sh
// builds the image from Debian's frr package, apply brings up three FRR
// routers and three PCs, OSPF reaches Full on every router link, PC1
// pings PC3 across two routers, and an edit of the routers' template is
// planned as a line diff of frr.conf.
func TestSystem_frrExample(t *testing.T) {
	systest.Require(t, "runc", "apt-get", "dpkg-deb", "tar", "go")
	src, err := filepath.Abs("../../examples/frr")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	name := fmt.Sprintf("lffrr%d", os.Getpid()%100000)
	lab, err := os.ReadFile(filepath.Join(src, "main.lab.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	lab = []byte(strings.Replace(string(lab), `name = "frr"`, fmt.Sprintf("name = %q", name), 1))
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), lab, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(src, "configs"), dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	setup := exec.Command(filepath.Join(src, "setup.sh"), filepath.Join(dir, "image"))
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	real, _ := filepath.EvalSymlinks(dir)
	labID := providers.LabID(real)
	t.Cleanup(func() {
		if code, out := realRun(t, dir, "destroy", "-auto-approve"); code != 0 {
			t.Errorf("destroy exited %d:\n%s", code, out)
		}
		removeChaosLeftovers(name, labID)
	})
	if code, out := realRun(t, dir, "apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply exited %d:\n%s", code, out)
	}

	pids := map[string]int{}
	code, out := realRun(t, dir, "state", "pull")
	if code != 0 {
		t.Fatalf("state pull exited %d:\n%s", code, out)
	}
	var st struct {
		Resources []struct {
			Address string
			Values  map[string]interface{}
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state pull: %v\n%s", err, out)
	}
	for _, r := range st.Resources {
		if pid, ok := r.Values["pid"].(float64); ok {
			pids[r.Address] = int(pid)
		}
	}
	// What a user types: labform exec ADDR -- COMMAND.
	in := func(addr string, argv ...string) (string, error) {
		code, out := realRun(t, dir, append([]string{"exec", addr, "--"}, argv...)...)
		if code != 0 {
			return out, fmt.Errorf("labform exec %s -- %s exited %d", addr, strings.Join(argv, " "), code)
		}
		return out, nil
	}

	// Each router has two OSPF neighbours on point-to-point links with a
	// 1 s hello: Full within seconds of the daemons' start.
	for _, r := range []string{"router1", "router2", "router3"} {
		addr := fmt.Sprintf("container.router[%q]", r)
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, err := in(addr, "vtysh", "-c", "show ip ospf neighbor")
			if err == nil && strings.Count(out, "Full") == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: OSPF not Full with both neighbours after 60 s (%v):\n%s", r, err, out)
			}
			time.Sleep(time.Second)
		}
	}
	if out, err := in(`container.pc["PC1"]`, "ping", "-c", "3", "-W", "2", "192.168.13.2"); err != nil {
		t.Fatalf("PC1 cannot ping PC3 across the routers: %v\n%s", err, out)
	}
	if out, err := in(`container.router["router1"]`, "stat", "-c", "%a %U:%G", "/etc/frr/frr.conf"); err != nil || strings.TrimSpace(out) != "640 frr:frr" {
		t.Errorf("router1's frr.conf: %q (%v), want mode 640 owned by frr:frr", out, err)
	}

	// An edit of the template is a line diff of each router's frr.conf,
	// applied in place by its on_change (vtysh -b): the routers keep
	// their pids and run the new setting.
	tpl := filepath.Join(dir, "configs", "frr.conf.tftpl")
	b, _ := os.ReadFile(tpl)
	edited := strings.Replace(string(b), "ip ospf hello-interval 1", "ip ospf hello-interval 2", 1)
	if edited == string(b) {
		t.Fatal("the template has no hello-interval line to edit")
	}
	os.WriteFile(tpl, []byte(edited), 0o644)
	code, out = realRun(t, dir, "plan", "-detailed-exitcode")
	if code != 2 || !strings.Contains(out, "-  ip ospf hello-interval 1") || !strings.Contains(out, "+  ip ospf hello-interval 2") ||
		!strings.Contains(out, "updated in-place") || strings.Contains(out, "must be replaced") {
		t.Fatalf("plan of an edited template (exit %d) should show the frr.conf line diff, in place:\n%s", code, out)
	}
	if code, out := realRun(t, dir, "apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply of the edited template exited %d:\n%s", code, out)
	}
	code, out = realRun(t, dir, "state", "pull")
	if code != 0 {
		t.Fatalf("state pull exited %d:\n%s", code, out)
	}
	st.Resources = nil
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if pid, ok := r.Values["pid"].(float64); ok && strings.HasPrefix(r.Address, "container.router") && int(pid) != pids[r.Address] {
			t.Errorf("%s: pid %d after the in-place edit, was %d", r.Address, int(pid), pids[r.Address])
		}
	}
	if out, err := in(`container.router["router2"]`, "vtysh", "-c", "show running-config"); err != nil || !strings.Contains(out, "ip ospf hello-interval 2") {
		t.Errorf("router2 does not run the edited setting (%v):\n%s", err, out)
	}
}
