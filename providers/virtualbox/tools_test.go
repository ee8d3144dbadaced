package virtualbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
)

// TestHungVBoxManageTimesOut drives the provider with a VBoxManage that
// hangs: tool_timeout = "1s" ends the create after about a second with an
// error that says so.
func TestHungVBoxManageTimesOut(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "VBoxManage")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nsleep 300\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := systest.NewLab(t, "lfvhung", New())
	l.Write(`
provider "virtualbox" {
  vboxmanage   = "` + fake + `"
  tool_timeout = "1s"
}
vm "r" {
  provider = virtualbox
  template = "router-base"
}
`)
	p, plan := l.Plan(planner.NormalMode)
	start := time.Now()
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the create took %v with tool_timeout = 1s", took)
	}
	if res == nil || res.Err() == nil || !strings.Contains(res.Err().Error(), "timed out after 1s") || !strings.Contains(res.Err().Error(), fake) {
		t.Fatalf("want a timeout naming VBoxManage, got %v", res.Err())
	}
}
