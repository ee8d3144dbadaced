package planner_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/all"
	"github.com/labform/labform/providers/container"
)

// failingRuntime is a runtime that lists no container and fails at
// everything else, as a broken runc does.
const failingRuntime = `#!/bin/sh
case " $* " in
*" list "*) echo '[]'; exit 0 ;;
esac
echo "simulated runtime failure" >&2
exit 1
`

// TestSystem_providerErrorNamesTheAddressOnce: an error of the real
// container provider reaches the user with the instance's address once,
// put in front by the engine, and the provider's own words after it name
// what failed (the runc id is said to be one), not a hash as if it were
// the object: in a refresh that cannot remove what an interrupted create
// left, and in a delete that runc refuses.
func TestSystem_providerErrorNamesTheAddressOnce(t *testing.T) {
	systest.Require(t)
	b := make([]byte, 4)
	rand.Read(b)
	name := "ev" + hex.EncodeToString(b)
	runtime := filepath.Join(t.TempDir(), "runc")
	if err := os.WriteFile(runtime, []byte(failingRuntime), 0o755); err != nil {
		t.Fatal(err)
	}
	lab := fmt.Sprintf(`
lab {
  name = %q
}
provider "container" {
  runtime = %q
}
container "web" {
  rootfs = "rootfs"
}
`, name, runtime)
	// The record: applied with the in-memory provider.
	e := byID(newEnv(t, map[string]string{"main.lab.hcl": lab}))
	e.apply(planner.PlanOptions{})
	id := recordID(t, e.store, "container.web")
	meta, _ := e.store.Meta()

	// The real container provider, with the failing runtime, on that state.
	reg := providers.NewRegistry()
	for _, p := range all.Providers() {
		if p.Name() == "container" {
			reg.Register(p)
		} else {
			reg.Register(e.mem[p.Name()])
		}
	}
	realPlanner := func() *planner.Planner {
		l, diags := config.Load(e.dir, reg)
		mustOK(t, diags)
		return &planner.Planner{Registry: reg, Store: e.store, Lab: l, Inputs: config.NewInputs(), Parallelism: 4}
	}
	// What a create killed in runc leaves: the runtime's directory of the
	// container, which runc cannot load, old enough to be removed.
	root := container.RuntimeRoot(meta.LabID)
	t.Cleanup(func() { os.RemoveAll(root) })
	left := filepath.Join(root, "lf-"+id)
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(left, old, old)

	once := func(what, msg, opening string) {
		t.Helper()
		if n := strings.Count(msg, "container.web"); n != 1 {
			t.Errorf("%s names container.web %d times, want once:\n%s", what, n, msg)
		}
		if !strings.HasPrefix(msg, "container.web: "+opening) {
			t.Errorf("%s does not open with the address, then %q:\n%s", what, opening, msg)
		}
		if !strings.Contains(msg, "simulated runtime failure") {
			t.Errorf("%s does not say what the runtime answered:\n%s", what, msg)
		}
	}

	_, diags := realPlanner().Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true})
	if !hasSummary(diags, "Refresh failed") {
		t.Fatalf("the refresh did not fail: %v", diags)
	}
	for _, d := range diags {
		if d.Summary == "Refresh failed" {
			once("the refresh's error", d.Detail, "the runtime's state directory "+left)
		}
	}

	p := realPlanner()
	plan, diags := p.Plan(context.Background(), planner.PlanOptions{Mode: planner.DestroyMode})
	mustOK(t, diags)
	res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	mustOK(t, diags)
	if err := res.Errors["container.web"]; err == nil {
		t.Fatal("the delete did not fail")
	}
	msg := res.Err().Error()
	line := msg[strings.Index(msg, "* ")+2:]
	once("the apply's error", line, "removing the container (runc id lf-"+id+")")
}
