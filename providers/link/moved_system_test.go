package link_test

import (
	"testing"

	"github.com/labform/labform/planner"
)

// TestSystem_movedKeepsContainers renames two linked containers through
// moved blocks (into a for_each resource): the containers keep their
// processes, the link keeps its bridge and still carries traffic, the
// plan counts no change, and a plan after the apply has nothing to do.
func TestSystem_movedKeepsContainers(t *testing.T) {
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
	pidA, nsA := l.container("container.a")
	pidB, _ := l.container("container.b")
	if pidA <= 0 || pidB <= 0 {
		t.Fatalf("pids %d and %d", pidA, pidB)
	}
	linkID := l.ID("link.l")
	if !l.ping("container.a", "10.203.0.2") {
		t.Fatal("a cannot ping b before the move")
	}

	l.Write(`
moved {
  from = container.a
  to   = container.router["a"]
}

moved {
  from = container.b
  to   = container.router["b"]
}

container "router" {
  for_each = { a = "10.203.0.1/24", b = "10.203.0.2/24" }
  rootfs   = "rootfs"
  command  = ["sleep", "3600"]
  addresses = {
    eth0 = [each.value]
  }
}

link "l" {
  endpoints = [container.router["a"].port[0], container.router["b"].port[0]]
}
`)
	_, plan := l.plan()
	if add, chg, del := plan.Counts(); add+chg+del != 0 {
		t.Fatalf("the moves plan %d to add, %d to change, %d to destroy; want none", add, chg, del)
	}
	if len(plan.Moves) != 2 {
		t.Fatalf("moves: %v", plan.Moves)
	}
	l.Apply(planner.NormalMode)
	newA, newNsA := l.container(`container.router["a"]`)
	newB, _ := l.container(`container.router["b"]`)
	if newA != pidA || newB != pidB {
		t.Errorf("pids changed with the move: a %d -> %d, b %d -> %d", pidA, newA, pidB, newB)
	}
	if newNsA != nsA {
		t.Errorf("a's netns changed: %s -> %s", nsA, newNsA)
	}
	if l.ID("link.l") != linkID {
		t.Errorf("the link's ID changed")
	}
	if !l.ping(`container.router["a"]`, "10.203.0.2") {
		t.Error("a cannot ping b after the move")
	}
	_, plan = l.plan()
	if plan.HasChanges() {
		for _, c := range plan.Changes {
			t.Logf("%s %s", c.Addr, c.Action)
		}
		t.Error("a plan after the moves has changes")
	}
}
