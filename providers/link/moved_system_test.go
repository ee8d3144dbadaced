package link_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/labform/labform/planner"
)

// movedLab is containers a and b, linked and applied, before a test moves
// them with moved blocks: what they had then, to compare after the move.
type movedLab struct {
	*netLab
	pidA, pidB int
	nsA, nsB   string
	linkID     string
}

func newMovedLab(t *testing.T) *movedLab {
	l := newNetLab(t)
	l.Write(twoHosts + `
link "l" {
  endpoints = [container.a.port[0], container.b.port[0]]
}
`)
	l.Apply(planner.NormalMode)
	m := &movedLab{netLab: l, linkID: l.ID("link.l")}
	m.pidA, m.nsA = l.container("container.a")
	m.pidB, m.nsB = l.container("container.b")
	if m.pidA <= 0 || m.pidB <= 0 {
		t.Fatalf("pids %d and %d", m.pidA, m.pidB)
	}
	if !l.ping("container.a", "10.203.0.2") {
		t.Fatal("a cannot ping b before the move")
	}
	return m
}

// planMoves writes src and plans it: the plan must change nothing and
// move the records to the addresses want.
func (m *movedLab) planMoves(t *testing.T, src string, want ...string) {
	t.Helper()
	m.Write(src)
	_, plan := m.plan()
	if add, chg, del := plan.Counts(); add+chg+del != 0 {
		logChanges(t, plan)
		t.Fatalf("the moves plan %d to add, %d to change, %d to destroy; want none", add, chg, del)
	}
	var got []string
	for _, mv := range plan.Moves {
		got = append(got, mv.To.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("wrong moves\ngot:  %v\nwant: %v", got, want)
	}
}

// applyMoves applies the moves and checks what must outlive them: the
// link's ID, traffic from a (now at a) to b, and nothing left to do.
func (m *movedLab) applyMoves(t *testing.T, a string) {
	t.Helper()
	m.Apply(planner.NormalMode)
	if m.ID("link.l") != m.linkID {
		t.Errorf("the link's ID changed")
	}
	if !m.ping(a, "10.203.0.2") {
		t.Error("a cannot ping b after the move")
	}
	if _, plan := m.plan(); plan.HasChanges() {
		logChanges(t, plan)
		t.Error("a plan after the moves has changes")
	}
}

func logChanges(t *testing.T, plan *planner.Plan) {
	t.Helper()
	for _, c := range plan.Changes {
		t.Logf("%s %s", c.Addr, c.Action)
	}
}

// TestSystem_movedKeepsContainers renames two linked containers through
// moved blocks (into a for_each resource): the containers keep their
// processes, the link keeps its bridge and still carries traffic, the
// plan counts no change, and a plan after the apply has nothing to do.
func TestSystem_movedKeepsContainers(t *testing.T) {
	m := newMovedLab(t)
	m.planMoves(t, `
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
`, `container.router["a"]`, `container.router["b"]`)
	m.applyMoves(t, `container.router["a"]`)
	newA, newNsA := m.container(`container.router["a"]`)
	newB, _ := m.container(`container.router["b"]`)
	if newA != m.pidA || newB != m.pidB {
		t.Errorf("pids changed with the move: a %d -> %d, b %d -> %d", m.pidA, newA, m.pidB, newB)
	}
	if newNsA != m.nsA {
		t.Errorf("a's netns changed: %s -> %s", m.nsA, newNsA)
	}
}

// TestSystem_movedIntoModule moves a linked container into a module
// instance with a moved block: its process and netns stay, the link that
// now reaches it through the module's output keeps its bridge and carries
// traffic, the plan counts no change, and a plan after the apply has
// nothing to do.
func TestSystem_movedIntoModule(t *testing.T) {
	m := newMovedLab(t)
	mod := filepath.Join(m.Dir, "modules", "peer")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	peer := `
variable "address" {
  type = string
}
` + containerHCL("b", "var.address") + `
output "port" {
  value = container.b.port[0]
}
`
	if err := os.WriteFile(filepath.Join(mod, "main.lab.hcl"), []byte(peer), 0o644); err != nil {
		t.Fatal(err)
	}
	m.planMoves(t, containerHCL("a", `"10.203.0.1/24"`)+`
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
`, "module.peer[0].container.b")
	m.applyMoves(t, "container.a")
	newB, newNsB := m.container("module.peer[0].container.b")
	if newB != m.pidB || newNsB != m.nsB {
		t.Errorf("b changed with the move: pid %d -> %d, netns %s -> %s", m.pidB, newB, m.nsB, newNsB)
	}
	if a, _ := m.container("container.a"); a != m.pidA {
		t.Errorf("a's pid changed: %d -> %d", m.pidA, a)
	}
}
