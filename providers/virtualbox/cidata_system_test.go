package virtualbox

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/cidata"
)

var isoRe = regexp.MustCompile(`[0-9a-f]{12}\.cidata\.iso`)

// TestSystem_configDiskCalls pins the VBoxManage calls that attach a VM's
// config disk (file blocks and cloud_init) on a controller of its own: at
// create, again after a changed file (a restart: powered off first), and
// the controller's removal once the VM has no files. The attached image
// is read back each time.
func TestSystem_configDiskCalls(t *testing.T) {
	l := newVBLab(t, "d")
	write := func(files string) {
		l.Write(fmt.Sprintf(`
provider "virtualbox" {
  vboxmanage = %q
}

vm "r" {
  provider = virtualbox
  template = %q
  adapters = 0
  console  = "none"
%s}
`, l.sim, l.tpl, files))
	}
	var all strings.Builder
	step := func(name, files string, mode planner.Mode) {
		l.calls()
		write(files)
		plan := l.Apply(mode)
		if name != "create" && mode == planner.NormalMode {
			if c := l.change(plan); c == nil || c.Cost != providers.Restart {
				t.Fatalf("%s: want a restart, got %+v", name, c)
			}
		}
		fmt.Fprintf(&all, "# %s\n%s\n", name, isoRe.ReplaceAllString(l.calls(), "<hash>.cidata.iso"))
	}
	// readBack reads the image attached to the VM's config disk
	// controller, or "" when none is.
	readBack := func() map[string][]byte {
		t.Helper()
		path := l.info()[configDiskController+"-0-0"]
		if path == "" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		label, files, err := cidata.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		if label != cidata.Label {
			t.Errorf("the attached image's label is %q", label)
		}
		return files
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "daemons"), []byte("zebra=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := func(content string) string {
		return fmt.Sprintf("  file {\n    path    = \"/etc/motd\"\n    content = %q\n  }\n  file {\n    path   = \"/etc/frr/daemons\"\n    source = \"daemons\"\n  }\n  cloud_init {\n    network_config = \"version: 2\\n\"\n  }\n", content)
	}
	step("create", file("one\n"), planner.NormalMode)
	if got := readBack(); string(got["labform/files/0"]) != "one\n" || string(got["labform/files/1"]) != "zebra=yes\n" || string(got["network-config"]) != "version: 2\n" {
		t.Fatalf("the attached config disk holds %q", got)
	}
	step("changed file (restart)", file("two\n"), planner.NormalMode)
	if got := readBack(); string(got["labform/files/0"]) != "two\n" {
		t.Fatalf("after the change the config disk holds %q", got)
	}
	// A source edited since: refresh finds it, and the VM restarts.
	if err := os.WriteFile(filepath.Join(l.Dir, "daemons"), []byte("zebra=no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, plan := l.Plan(planner.NormalMode)
	if c := l.change(plan); c == nil || c.Cost != providers.Restart || !strings.Contains(c.Reason, "source of its file blocks changed") {
		t.Fatalf("a changed source must restart the VM; got %+v", c)
	}
	step("changed source (restart)", file("two\n"), planner.NormalMode)
	if got := readBack(); string(got["labform/files/1"]) != "zebra=no\n" {
		t.Fatalf("after the source changed the config disk holds %q", got)
	}
	step("no files (restart)", "", planner.NormalMode)
	if got := readBack(); got != nil {
		t.Fatalf("the config disk is still attached: %q", got)
	}
	step("destroy", "", planner.DestroyMode)
	golden.Check(t, "../../testdata/virtualbox/cidata_calls.golden", []byte(all.String()))
}
