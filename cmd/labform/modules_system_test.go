package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/labform/labform/internal/systest"
)

// TestSystem_modulesRealLab applies examples/pods' module with real runc
// containers (two pods of one leaf, linked to a core), with checks that
// probe from a module's container through the module's output: apply
// runs them, labform test passes, a second plan has nothing to do, and
// destroy removes it all.
func TestSystem_modulesRealLab(t *testing.T) {
	systest.Require(t, "runc", "busybox", "ip")
	dir := t.TempDir()
	name := fmt.Sprintf("lfmod%d", os.Getpid()%100000)
	pod, err := os.ReadFile("../../examples/pods/modules/pod/main.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "modules", "pod"), 0o755); err != nil {
		t.Fatal(err)
	}
	pod = append(pod, []byte(`
output "spine" {
  value = container.spine
}

output "leaf0" {
  value = container.leaf[0]
}
`)...)
	if err := os.WriteFile(filepath.Join(dir, "modules", "pod", "main.lab.hcl"), pod, 0o644); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`
lab {
  name = %q
}

container "core" {
  rootfs   = "rootfs"
  command  = ["sleep", "infinity"]
  hostname = "core"
  ports    = 2
  addresses = {
    eth0 = ["10.0.0.1/24"]
    eth1 = ["10.0.1.1/24"]
  }
}

module "pod" {
  source = "./modules/pod"
  count  = 2
  index  = count.index
  leaves = 1
  rootfs = "rootfs"
}

link "uplink" {
  count     = 2
  endpoints = [container.core.port[count.index], module.pod[count.index].uplink]
}

check "leaf_reaches_its_spine" {
  ping {
    from  = module.pod[1].leaf0
    to    = "10.2.0.1"
    count = 2
  }
}

check "spine_reaches_core" {
  ping {
    from = module.pod[0].spine
    to   = container.core
  }
}
`, name)
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sh", "sleep", "ping")
	t.Cleanup(func() {
		if code, out := realRun(t, dir, "destroy", "-auto-approve"); code != 0 {
			t.Errorf("destroy exits %d\n%s", code, out)
		}
	})
	code, out := realRun(t, dir, "apply", "-auto-approve")
	if code != 0 {
		t.Fatalf("apply exits %d\n%s", code, out)
	}
	contains(t, "apply", out, "9 added, 0 changed, 0 destroyed", "Checks: 2 passed, 0 failed.",
		`ping module.pod[1].container.leaf[0] -> 10.2.0.1`)
	if code, out := realRun(t, dir, "test"); code != 0 {
		t.Errorf("labform test exits %d\n%s", code, out)
	}
	if code, out := realRun(t, dir, "plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan after apply exits %d\n%s", code, out)
	}
	code, out = realRun(t, dir, "exec", "module.pod[0].container.leaf[0]", "--", "ping", "-c", "1", "-W", "2", "10.1.0.1")
	if code != 0 {
		t.Errorf("exec ping in a module's leaf exits %d\n%s", code, out)
	}
}
