package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashLab has 30 instances in three layers, so that a kill lands in the
// middle of creates that depend on each other.
const crashLab = `
vm "core" {
  count    = 5
  adapters = 2
}
container "host" {
  count  = 10
  rootfs = "rootfs"
  ports  = 1
}
link "up" {
  count     = 10
  endpoints = [vm.core[count.index % 5].port[count.index % 2], container.host[count.index].port[0]]
}
firewall_chain "fw" {
  count  = 5
  target = container.host[count.index]
  rule {
    action = "accept"
    dport  = 22
  }
}
`

// labformProcess starts the test binary as labform with file-backed
// in-memory providers under memDir.
func labformProcess(t *testing.T, dir, memDir, delay string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], append([]string{"-chdir=" + dir, "-no-color"}, args...)...)
	cmd.Env = append(os.Environ(), "LABFORM_TEST_MAIN=1", "LABFORM_TEST_MEMDIR="+memDir, "LABFORM_TEST_DELAY="+delay)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func objectsIn(memDir string) int {
	m, _ := filepath.Glob(filepath.Join(memDir, "*.json"))
	return len(m)
}

// TestCrash_killAtRandomPoints kills an apply with SIGKILL at random
// moments and checks that nothing is lost: the next plan knows every
// object that exists (including one whose create was in flight), a second
// apply completes the lab without creating anything twice (the in-memory
// provider refuses to create an object that exists), and destroy removes
// every object.
func TestCrash_killAtRandomPoints(t *testing.T) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	adopted := 0
	for round := 0; round < 8; round++ {
		dir, memDir := t.TempDir(), t.TempDir()
		os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(crashLab), 0o644)
		cmd, out := labformProcess(t, dir, memDir, "15ms", "apply", "-auto-approve", "-parallelism=4")
		// Strike at a random moment after the first object exists, so
		// that a slow start (the race detector) cannot make every kill
		// land before the apply began.
		waitForObjects(t, memDir, 1)
		killAt := time.Duration(rng.Intn(150)) * time.Millisecond
		time.Sleep(killAt)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		existing := objectsIn(memDir)
		t.Logf("round %d: killed %v after the first create with %d of 30 objects created", round, killAt, existing)

		// plan: what exists is known (in state, or found through the journal).
		plan, pout := labformProcess(t, dir, memDir, "0s", "plan", "-detailed-exitcode")
		err := plan.Wait()
		code := plan.ProcessState.ExitCode()
		if code != 2 && !(code == 0 && existing == 30) {
			t.Fatalf("round %d: plan after the kill: exit %d (%v)\n%s\napply output:\n%s", round, code, err, pout, out)
		}
		if strings.Contains(pout.String(), "has been found (its create was interrupted") {
			adopted++
		}
		if toAdd := countLine(pout.String(), "to add"); toAdd != 30-existing {
			t.Fatalf("round %d: %d objects exist, but the plan adds %d (want %d)\n%s", round, existing, toAdd, 30-existing, pout)
		}

		again, aout := labformProcess(t, dir, memDir, "0s", "apply", "-auto-approve")
		if err := again.Wait(); err != nil {
			t.Fatalf("round %d: second apply: %v\n%s", round, err, aout)
		}
		if n := objectsIn(memDir); n != 30 {
			t.Fatalf("round %d: %d objects after the second apply, want 30\n%s", round, n, aout)
		}
		clean, cout := labformProcess(t, dir, memDir, "0s", "plan", "-detailed-exitcode")
		if err := clean.Wait(); err != nil {
			t.Fatalf("round %d: plan after the second apply should be empty: %v\n%s", round, err, cout)
		}
		destroy, dout := labformProcess(t, dir, memDir, "0s", "destroy", "-auto-approve")
		if err := destroy.Wait(); err != nil || objectsIn(memDir) != 0 {
			t.Fatalf("round %d: destroy: %v, %d objects left\n%s", round, err, objectsIn(memDir), dout)
		}
	}
	// With the provider sleeping after it made each object, most kills
	// land between an object's creation and its state write.
	t.Logf("%d of 8 rounds recovered an object through the journal", adopted)
	if adopted == 0 {
		t.Error("no round exercised the journal's recovery of an interrupted create")
	}
}

// countLine reads N from "Plan: N to add" (0 when there is no plan line).
func countLine(out, what string) int {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Plan: ") {
			var add, chg, del int
			fmt.Sscanf(line, "Plan: %d to add, %d to change, %d to destroy.", &add, &chg, &del)
			return add
		}
	}
	return 0
}

// TestInterrupt_letsRunningActionsFinish sends SIGINT during an apply:
// labform starts nothing new, lets running actions finish, saves state and
// exits 1; state then matches what exists.
func TestInterrupt_letsRunningActionsFinish(t *testing.T) {
	dir, memDir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(crashLab), 0o644)
	cmd, out := labformProcess(t, dir, memDir, "100ms", "apply", "-auto-approve", "-parallelism=3")
	waitForObjects(t, memDir, 3)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d after Ctrl-C, want 1\n%s", code, out)
	}
	if !strings.Contains(out.String(), "Interrupt received") || !strings.Contains(out.String(), "were not started") {
		t.Fatalf("no word about the interrupt:\n%s", out)
	}
	existing := objectsIn(memDir)
	if existing == 0 || existing == 30 {
		t.Fatalf("%d objects: the interrupt should land mid-apply", existing)
	}
	// Every object that exists is in state: a plan without refresh (state
	// alone) adds exactly the missing ones.
	plan, pout := labformProcess(t, dir, memDir, "0s", "plan", "-refresh=false")
	plan.Wait()
	if toAdd := countLine(pout.String(), "to add"); toAdd != 30-existing {
		t.Fatalf("%d objects exist but state-only plan adds %d\n%s", existing, toAdd, pout)
	}
}

// waitForObjects waits until the in-memory lab under memDir holds n objects.
func waitForObjects(t *testing.T, memDir string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for objectsIn(memDir) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the apply did not create %d objects in 30s", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
