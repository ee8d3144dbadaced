package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/internal/systest"
)

const readyLab = `
lab {
  name = "%s"
}
variable "banner" {
  default = "never printed"
}
container "server" {
  rootfs  = "rootfs"
  command = ["sh", "-c", "sleep 2; echo server booted; touch /tmp/up; httpd -f -p 80 -h /"]
  addresses = {
    eth0 = ["10.78.0.1/24"]
  }
  ready {
    console  = "server booted"
    exec     = ["test", "-e", "/tmp/up"]
    tcp      = "10.78.0.1:80"
    interval = "200ms"
  }
}
container "client" {
  rootfs     = "rootfs"
  command    = ["sleep", "3600"]
  ports      = 0
  depends_on = [container.server]
}
container "slow" {
  rootfs  = "rootfs"
  command = ["sh", "-c", "echo hello from the guest; echo its last line; sleep 3600"]
  ports   = 0
  ready {
    console  = var.banner == "" ? "x" : "never printed"
    timeout  = "2s"
  }
}
`

// TestReady_realContainers: a server whose ready block (console, exec and
// tcp) holds 2 s after its start, and a client that depends on it and is
// created only then; a node whose console never shows what its ready
// block waits for fails the apply after the timeout with its console's
// last line, is kept in state as tainted, and the next plan replaces it.
func TestReady_realContainers(t *testing.T) {
	systest.Require(t, "runc", "busybox")
	dir := t.TempDir()
	name := fmt.Sprintf("lfrdy%d", os.Getpid()%100000)
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sh", "sleep", "httpd", "test", "touch")
	if err := os.Mkdir(filepath.Join(dir, "rootfs", "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	write := func(console string) {
		src := strings.Replace(fmt.Sprintf(readyLab, name), `var.banner == "" ? "x" : "never printed"`, fmt.Sprintf("%q", console), 1)
		if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("never printed")
	t.Cleanup(func() {
		if code, out := realRun(t, dir, "destroy", "-auto-approve"); code != 0 {
			t.Errorf("destroy exits %d\n%s", code, out)
		}
	})
	code, out := realRun(t, dir, "apply", "-auto-approve")
	t.Logf("apply:\n%s", out)
	if code != 1 {
		t.Fatalf("apply with a node that never gets ready exits %d, want 1", code)
	}
	serverDone := strings.Index(out, "container.server: Creation complete")
	clientStart := strings.Index(out, "container.client: Creating...")
	if serverDone < 0 || clientStart < serverDone {
		t.Errorf("the client started before the server was ready (server done at %d, client start at %d)", serverDone, clientStart)
	}
	contains(t, "apply's output", out,
		`container.server: Waiting to be ready (console "server booted", tcp 10.78.0.1:80, exec test -e /tmp/up)...`,
		"container.slow: Creation failed",
		"created, but not ready after 2s; it is kept in state as tainted, and the next plan replaces it",
		`console "never printed": not met; last seen: the console's last lines:`,
		"| its last line")

	code, out = realRun(t, dir, "plan", "-detailed-exitcode")
	if code != 2 {
		t.Fatalf("plan after a ready timeout exits %d, want 2\n%s", code, out)
	}
	contains(t, "the plan", out, "# container.slow is tainted, so must be replaced (not ready 2s after its create)", "Plan: 1 to add, 0 to change, 1 to destroy.")
	if _, out := realRun(t, dir, "show"); !strings.Contains(out, "# container.slow: (tainted: not ready 2s after its create)") {
		t.Errorf("show does not mark the tainted node:\n%s", out)
	}

	write("its last line")
	if code, out := realRun(t, dir, "apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply with a reachable console condition exits %d\n%s", code, out)
	}
	if code, out := realRun(t, dir, "plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("plan after the replacement exits %d, want 0\n%s", code, out)
	}
}
