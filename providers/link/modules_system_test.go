package link_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/labform/labform/planner"
)

// TestSystem_movedIntoModule moves a linked container into a module
// instance with a moved block: its process and netns stay, the link that
// now reaches it through the module's output keeps its bridge and carries
// traffic, the plan counts no change, and a plan after the apply has
// nothing to do.
func TestSystem_movedIntoModule(t *testing.T) {
	l := newNetLab(t)
	l.Write(hosts[:len(hosts)-len(`container "c" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  addresses = {
    eth0 = ["10.203.0.3/24"]
  }
}
`)] + `
link "l" {
  endpoints = [container.a.port[0], container.b.port[0]]
}
`)
	l.Apply(planner.NormalMode)
	pidA, _ := l.container("container.a")
	pidB, nsB := l.container("container.b")
	if pidA <= 0 || pidB <= 0 {
		t.Fatalf("pids %d and %d", pidA, pidB)
	}
	linkID := l.ID("link.l")
	if !l.ping("container.a", "10.203.0.2") {
		t.Fatal("a cannot ping b before the move")
	}

	mod := filepath.Join(l.Dir, "modules", "peer")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "main.lab.hcl"), []byte(`
variable "address" {
  type = string
}

container "b" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  addresses = {
    eth0 = [var.address]
  }
}

output "port" {
  value = container.b.port[0]
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	l.Write(`
container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  addresses = {
    eth0 = ["10.203.0.1/24"]
  }
}

module "peer" {
  source  = "./modules/peer"
  count   = 1
  address = "10.203.0.2/24"
}

moved {
  from = container.b
  to   = module.peer[0].container.b
}

link "l" {
  endpoints = [container.a.port[0], module.peer[0].port]
}
`)
	_, plan := l.plan()
	if add, chg, del := plan.Counts(); add+chg+del != 0 {
		for _, c := range plan.Changes {
			t.Logf("%s %s", c.Addr, c.Action)
		}
		t.Fatalf("the move plans %d to add, %d to change, %d to destroy; want none", add, chg, del)
	}
	if len(plan.Moves) != 1 || plan.Moves[0].To.String() != "module.peer[0].container.b" {
		t.Fatalf("moves: %v", plan.Moves)
	}
	l.Apply(planner.NormalMode)
	newB, newNsB := l.container("module.peer[0].container.b")
	if newB != pidB || newNsB != nsB {
		t.Errorf("b changed with the move: pid %d -> %d, netns %s -> %s", pidB, newB, nsB, newNsB)
	}
	if a, _ := l.container("container.a"); a != pidA {
		t.Errorf("a's pid changed: %d -> %d", pidA, a)
	}
	if l.ID("link.l") != linkID {
		t.Errorf("the link's ID changed")
	}
	if !l.ping("container.a", "10.203.0.2") {
		t.Error("a cannot ping b after the move")
	}
	_, plan = l.plan()
	if plan.HasChanges() {
		for _, c := range plan.Changes {
			t.Logf("%s %s", c.Addr, c.Action)
		}
		t.Error("a plan after the move has changes")
	}
}
