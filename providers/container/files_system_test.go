package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers/container/image/imagetest"
)

const filesLab = `
container "a" {
  image = "REGISTRY/lab/frr:v1"
  command = ["sleep", "3600"]
  user {
    uid = 0
    gid = 0
  }
  file {
    path      = "/etc/frr/frr.conf"
    content   = "CONF"
    mode      = "0640"
    owner     = "frr:frr"
    on_change = ["sh", "-c", "cat /etc/frr/frr.conf > /tmp/reloaded"]
  }
  file {
    path   = "/etc/frr/daemons"
    source = "configs/daemons"
  }
  file {
    path   = "/opt/tree"
    source = "configs/tree"
    owner  = "92:85"
  }
}
`

// TestSystem_fileBlocks: files land with the declared path, mode and
// owner, in the container's upper layer only; an edited file with
// on_change is rewritten in place (same pid) and its command runs; one
// without restarts the container (new pid); a source file edited on disk
// is seen by the plan.
func TestSystem_fileBlocks(t *testing.T) {
	l := newImageLab(t)
	l.push("lab/frr:v1", imagetest.Busybox(t))
	for name, body := range map[string]string{"configs/daemons": "bgpd=yes\n", "configs/tree/a.sh": "#!/bin/sh\n", "configs/tree/sub/b": "b\n"} {
		p := filepath.Join(l.Dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write := func(conf string) { l.write(strings.Replace(filesLab, "CONF", conf, 1)) }
	write(`hostname r1\n`)
	l.Apply(planner.NormalMode)
	for _, tc := range []struct{ args, want string }{
		{"cat /etc/frr/frr.conf", "hostname r1"},
		{"stat -c %a:%u:%g /etc/frr/frr.conf", "640:92:85"},
		{"cat /etc/frr/daemons", "bgpd=yes"},
		{"stat -c %a:%u:%g /etc/frr/daemons", "644:0:0"},
		{"stat -c %a:%u:%g /opt/tree/a.sh", "644:92:85"}, // the block's mode, as on VMs
		{"cat /opt/tree/sub/b", "b"},
	} {
		out, err := l.exec("container.a", strings.Fields(tc.args)...)
		if err != nil || strings.TrimSpace(out) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(l.store, "sha256")); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(l.store, "sha256", "*", "rootfs", "etc", "frr"))
	if len(matches) > 0 {
		t.Fatalf("a file block reached the image in the store: %v", matches)
	}
	pid := l.state("container.a").Pid

	// An edit of the file with on_change: in place, same pid, command ran.
	write(`hostname r1\nrouter bgp 65001\n`)
	_, plan := l.Plan(planner.NormalMode)
	if got := actionOf(plan, "container.a"); got != "update/in-place" {
		t.Fatalf("plan for an edited file with on_change: %s; want update/in-place", got)
	}
	l.Apply(planner.NormalMode)
	if st := l.state("container.a"); st.Pid != pid || st.Status != "running" {
		t.Fatalf("after an on_change edit: pid %d (%s); want the same pid %d", st.Pid, st.Status, pid)
	}
	if out, err := l.exec("container.a", "cat", "/tmp/reloaded"); err != nil || !strings.Contains(out, "router bgp 65001") {
		t.Fatalf("on_change did not run on the new file: %q, %v", out, err)
	}

	// An edit of a source file on disk, no on_change: a restart.
	if err := os.WriteFile(filepath.Join(l.Dir, "configs/daemons"), []byte("bgpd=yes\nospfd=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, plan = l.Plan(planner.NormalMode)
	c := changeOf(plan, "container.a")
	if got := actionOf(plan, "container.a"); got != "update/restart" || !strings.Contains(c.Reason, "/etc/frr/daemons") {
		t.Fatalf("plan for an edited source file: %s (%s); want update/restart naming the file", got, c.Reason)
	}
	l.Apply(planner.NormalMode)
	if st := l.state("container.a"); st.Pid == pid || st.Status != "running" {
		t.Fatalf("after a restart: pid %d (%s); want a new pid", st.Pid, st.Status)
	}
	if out, err := l.exec("container.a", "cat", "/etc/frr/daemons"); err != nil || !strings.Contains(out, "ospfd=yes") {
		t.Fatalf("after the restart /etc/frr/daemons = %q, %v", out, err)
	}
	if _, plan = l.Plan(planner.NormalMode); actionOf(plan, "container.a") != "no-op/none" {
		t.Fatalf("plan after apply: %s; want no change", actionOf(plan, "container.a"))
	}
}

// sleeperWithMotd is a rootfs container with one file block.
const sleeperWithMotd = `
container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  file {
    path    = "/etc/motd"
    content = "hello\n"
  }
}
`

// TestSystem_rootfsFileBlocks: a rootfs container with file blocks runs
// on an overlay of its rootfs: the lab's rootfs directory is untouched.
func TestSystem_rootfsFileBlocks(t *testing.T) {
	l := newSysLab(t)
	l.Write(sleeperWithMotd)
	l.Apply(planner.NormalMode)
	if out, err := l.exec("container.a", "cat", "/etc/motd"); err != nil || out != "hello\n" {
		t.Fatalf("/etc/motd = %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "rootfs", "etc")); err == nil {
		t.Fatal("the file block was written into the lab's rootfs directory")
	}
}

// TestSystem_rootfsFirstFileReplaces: a rootfs container given its first
// file block moves onto an overlay: the plan replaces it and says why.
func TestSystem_rootfsFirstFileReplaces(t *testing.T) {
	l := newSysLab(t)
	l.Write(`
container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}
`)
	l.Apply(planner.NormalMode)
	l.Write(sleeperWithMotd)
	_, plan := l.Plan(planner.NormalMode)
	c := changeOf(plan, "container.a")
	if got := actionOf(plan, "container.a"); got != "replace/replace" || !strings.Contains(c.Reason, "overlay") {
		t.Fatalf("plan: %s (%s); want a replacement saying why", got, c.Reason)
	}
	l.Apply(planner.NormalMode)
	if out, err := l.exec("container.a", "cat", "/etc/motd"); err != nil || out != "hello\n" {
		t.Fatalf("/etc/motd = %q, %v", out, err)
	}
}
