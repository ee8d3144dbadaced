package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/etcdtest"
	etcdstate "github.com/labform/labform/state/etcd"
)

// etcdBody is a lab whose objects the file-backed in-memory providers
// read back exactly as written.
const etcdBody = `
variable "hosts" {
  type    = number
  default = 2
}

vm "router" {
  adapters = var.hosts
}

container "host" {
  count  = var.hosts
  rootfs = "rootfs"
  ports  = 1
}

link "wire" {
  count     = var.hosts
  endpoints = [vm.router.port[count.index], container.host[count.index].port[0]]
}

output "hosts" {
  value = length(container.host)
}
`

// etcdLab is etcdBody named name, its state in etcd under prefix (or in
// .labform/state.db when endpoints is nil).
func etcdLab(name string, endpoints []string, prefix string) string {
	lab := fmt.Sprintf("lab {\n  name = %q\n", name)
	if endpoints != nil {
		lab += fmt.Sprintf("  backend \"etcd\" {\n    endpoints = [\"%s\"]\n    prefix    = %q\n    lock_ttl  = \"2s\"\n  }\n", strings.Join(endpoints, `", "`), prefix)
	}
	return lab + "}\n" + etcdBody
}

// checkout is a lab directory whose in-memory providers keep their objects
// as files in memDir: checkouts and processes that share memDir see one lab.
// slowCheckout is a checkout whose providers take delay for each action,
// so that a test can act while its apply is under way.
func slowCheckout(t *testing.T, memDir, src string, delay time.Duration) *cli {
	c := checkout(t, memDir, src)
	for _, m := range c.mems {
		m.Delay = delay
	}
	return c
}

// applyAsync starts `apply -auto-approve args...` in the background; the
// channel yields its result once it ends.
func (c *cli) applyAsync(args ...string) <-chan result {
	done := make(chan result, 1)
	go func() {
		var out, errOut syncBuffer
		code := run(append([]string{"-chdir=" + c.dir, "-no-color", "apply", "-auto-approve"}, args...), c.reg,
			stdio{in: strings.NewReader(""), out: &out, err: &errOut})
		done <- result{code, out.String(), errOut.String()}
	}()
	return done
}

func checkout(t *testing.T, memDir, src string) *cli {
	c := &cli{t: t, dir: t.TempDir()}
	c.reg, c.mems = memRegistry(memDir)
	c.write(map[string]string{"main.lab.hcl": src})
	return c
}

// TestEtcd_sharedCheckouts: two checkouts of one lab share its state in
// etcd; the second sees what the first applied and plans no change; a
// second run is refused while a first holds the lock, with the holder's
// name; a holder killed with SIGKILL frees it after lock_ttl, and the next
// plan is honest about what the killed apply left.
func TestEtcd_sharedCheckouts(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	memDir := t.TempDir()
	src := etcdLab("shared", cl.Endpoints, "labform/shared")
	a, b := checkout(t, memDir, src), checkout(t, memDir, src)
	a.must(0, "init")
	a.must(0, "apply", "-auto-approve", "-var", "hosts=1")
	r := b.must(2, "plan", "-detailed-exitcode", "-var", "hosts=1", "-target", "container.host[0]", "-replace", "container.host[0]")
	contains(t, "plan from the other checkout", r.out, "container.host[0] must be replaced")
	r = b.must(0, "plan", "-detailed-exitcode", "-var", "hosts=1")
	for _, refused := range []string{"moved", "Copy of a lab", "lost"} {
		if strings.Contains(r.out+r.errOut, refused) {
			t.Errorf("the second checkout's plan says %q:\n%s%s", refused, r.out, r.errOut)
		}
	}
	if pa, pb := a.must(0, "state", "pull").out, b.must(0, "state", "pull").out; pa != pb {
		t.Errorf("the checkouts pull different states:\n%s\n%s", pa, pb)
	}

	// A run holds the lock (an apply of 3 objects, 300 ms each).
	holder, hout := labformProcess(t, a.dir, memDir, "300ms", "apply", "-auto-approve", "-parallelism=1", "-var", "hosts=3")
	defer holder.Process.Kill()
	cfg := etcdstate.Config{Endpoints: cl.Endpoints, Prefix: "labform/shared"}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if h, _ := etcdstate.ReadLock(cfg); h != nil && h.PID == holder.Process.Pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder never took the lock:\n%s", hout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitForObjects(t, memDir, 6)
	r = b.must(1, "plan", "-var", "hosts=3")
	contains(t, "refusal", r.errOut, fmt.Sprintf("pid %d", holder.Process.Pid), "labform apply", "-lock-timeout", "force-unlock")
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	// The lease outlives the holder until lock_ttl: refused at once, a
	// run that waits gets the lock.
	b.must(1, "plan", "-var", "hosts=3")
	r = b.must(2, "plan", "-lock-timeout=20s", "-detailed-exitcode", "-var", "hosts=3")
	if n := objectsIn(memDir); n < 6 {
		t.Fatalf("%d objects", n)
	}
	b.must(0, "apply", "-auto-approve", "-var", "hosts=3")
	a.must(0, "plan", "-detailed-exitcode", "-var", "hosts=3")
	if n := objectsIn(memDir); n != 7 {
		t.Errorf("%d objects after finishing the killed apply, want 7", n)
	}
}

// TestEtcd_leaderKilledMidApply: an apply through a three-member cluster
// whose leader is stopped midway loses nothing; the next plan is honest.
func TestEtcd_leaderKilledMidApply(t *testing.T) {
	cl := etcdtest.Start(t, 3)
	memDir := t.TempDir()
	c := slowCheckout(t, memDir, etcdLab("leader", cl.Endpoints, "labform/leader"), 50*time.Millisecond)
	done := c.applyAsync("-parallelism=2", "-var", "hosts=12")
	waitForObjects(t, memDir, 8)
	select {
	case <-done:
		t.Fatal("the apply finished before the leader was stopped")
	default:
	}
	cl.Stop(cl.WaitLeader())
	select {
	case r := <-done:
		if r.code != 0 {
			t.Fatalf("apply through the leader's loss: exit %d", r.code)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("apply did not finish")
	}
	c.must(0, "plan", "-detailed-exitcode", "-var", "hosts=12")
	if n, want := objectsIn(memDir), 1+12+12; n != want {
		t.Errorf("%d objects, want %d", n, want)
	}
	if n := len(strings.Fields(c.must(0, "state", "list").out)); n != 25 {
		t.Errorf("%d instances in state, want 25", n)
	}
}

// TestEtcd_migrate moves a lab's state to etcd and back: the same state
// pull, byte for byte, each way; plans in between find nothing to change;
// a saved plan made before the move is refused after it; a target that
// holds another lab's state is refused.
func TestEtcd_migrate(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	memDir := t.TempDir()
	c := checkout(t, memDir, etcdLab("mig", nil, ""))
	c.must(0, "apply", "-auto-approve")
	c.must(0, "apply", "-auto-approve")
	pull := c.must(0, "state", "pull").out
	planFile := filepath.Join(t.TempDir(), "saved.plan")
	c.must(0, "plan", "-out", planFile, "-var", "hosts=3")

	c.write(map[string]string{"main.lab.hcl": etcdLab("mig", cl.Endpoints, "labform/mig")})
	r := c.must(1, "plan")
	contains(t, "plan before the move", r.errOut, "init -migrate-state", "state.db")
	r = c.must(0, "init", "-migrate-state")
	contains(t, "init -migrate-state", r.out, "Moved the state", "to etcd")
	if got := c.must(0, "state", "pull").out; got != pull {
		t.Fatalf("state pull after the move to etcd differs:\n%s\nwant\n%s", got, pull)
	}
	c.must(0, "plan", "-detailed-exitcode")
	r = c.must(1, "apply", planFile)
	contains(t, "saved plan", r.errOut, "Saved plan is for another state")
	// state push works on etcd too (a write: the serial moves on).
	pulled := filepath.Join(t.TempDir(), "pulled.json")
	if err := os.WriteFile(pulled, []byte(pull), 0o600); err != nil {
		t.Fatal(err)
	}
	r = c.must(0, "state", "push", pulled)
	contains(t, "push to etcd", r.out, "Pushed 5 instance(s)")
	pull = c.must(0, "state", "pull").out
	c.must(0, "plan", "-detailed-exitcode")

	c.write(map[string]string{"main.lab.hcl": etcdLab("mig", nil, "")})
	r = c.must(1, "plan")
	contains(t, "plan before the move back", r.errOut, "init -migrate-state", "labform/mig")
	c.must(0, "init", "-migrate-state")
	if got := c.must(0, "state", "pull").out; got != pull {
		t.Fatalf("state pull after the move back differs:\n%s\nwant\n%s", got, pull)
	}
	c.must(0, "plan", "-detailed-exitcode")

	// Another lab's state under the prefix: refused, nothing moved.
	other := checkout(t, t.TempDir(), etcdLab("other", cl.Endpoints, "labform/taken"))
	other.must(0, "apply", "-auto-approve", "-var", "hosts=1")
	c.write(map[string]string{"main.lab.hcl": etcdLab("mig", cl.Endpoints, "labform/taken")})
	r = c.must(1, "init", "-migrate-state")
	contains(t, "migration onto another lab's state", r.errOut, "another lineage", "Nothing was moved")
	if _, err := os.Stat(statePath(c.dir)); err != nil {
		t.Errorf("the refused move touched the state file: %v", err)
	}
}

// TestEtcd_leaseLostMidApply: the lock's lease ends mid-apply (here it is
// revoked, as force-unlock does; a partition ends it the same way). No new
// action starts, running ones finish, labform says the state could not be
// written and keeps what it could not write in .labform; the next run
// writes it first, and its plan is honest.
func TestEtcd_leaseLostMidApply(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	memDir := t.TempDir()
	c := slowCheckout(t, memDir, etcdLab("lease", cl.Endpoints, "labform/lease"), 100*time.Millisecond)
	done := c.applyAsync("-parallelism=2", "-var", "hosts=10")
	waitForObjects(t, memDir, 4)
	cfg := etcdstate.Config{Endpoints: cl.Endpoints, Prefix: "labform/lease"}
	h, err := etcdstate.ReadLock(cfg)
	if err != nil || h == nil {
		t.Fatalf("lock: %v %v", h, err)
	}
	r := c.must(1, "force-unlock", h.ID)
	contains(t, "force-unlock without a terminal", r.errOut, "-force")
	r = c.must(0, "force-unlock", "-force", h.ID)
	contains(t, "force-unlock", r.out, "successfully unlocked", fmt.Sprintf("pid %d", os.Getpid()), "labform apply")
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("apply did not stop")
	}
	if h, _ := etcdstate.ReadLock(cfg); h != nil {
		t.Errorf("the stopped apply left the lock held by %v", h)
	}
	if r.code != 1 {
		t.Fatalf("apply after the lease's loss: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	contains(t, "apply's errors", r.errOut, "no new actions will start", "could not write the state to etcd", etcdstate.UnsavedFile)
	made := objectsIn(memDir)
	if made == 21 {
		t.Fatal("every action ran after the lease's loss")
	}
	if _, err := os.Stat(filepath.Join(c.dir, ".labform", etcdstate.UnsavedFile)); err != nil {
		t.Fatalf("nothing kept locally: %v", err)
	}
	for _, m := range c.mems {
		m.Delay = 0
	}
	r = c.must(2, "plan", "-detailed-exitcode", "-var", "hosts=10")
	contains(t, "the next run", r.errOut, "Wrote", "that an earlier run could not write")
	if objectsIn(memDir) != made {
		t.Fatal("plan changed the lab")
	}
	r = c.must(0, "apply", "-auto-approve", "-var", "hosts=10")
	c.must(0, "plan", "-detailed-exitcode", "-var", "hosts=10")
	if n := objectsIn(memDir); n != 21 {
		t.Errorf("%d objects, want 21", n)
	}
}

// TestEtcd_nameHeld: a lab whose state is in etcd holds its name on the
// host like any other: a new lab of that name elsewhere is refused.
func TestEtcd_nameHeld(t *testing.T) {
	cl := etcdtest.Start(t, 1)
	memDir := t.TempDir()
	shared := checkout(t, memDir, etcdLab("held", cl.Endpoints, "labform/held"))
	shared.must(0, "apply", "-auto-approve", "-var", "hosts=1")
	local := checkout(t, memDir, etcdLab("held", nil, ""))
	r := local.must(1, "plan")
	contains(t, "another lab of the same name", r.errOut, "Lab name in use", shared.dir)
}
