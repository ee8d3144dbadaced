package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

const testSecret = "hunter2-labform-secret"

// TestHideArgs: a sensitive extra_args goes to 0600 files; what QEMU
// cannot read from a file is refused without echoing the value.
func TestHideArgs(t *testing.T) {
	h, err := hideArgs([]string{"-object", "secret,id=pw0,data=" + testSecret, "-device", "e1000,id=n1,mac=52:54:00:00:00:01,romfile=a,,b",
		"--netdev", "user,id=nd", "-drive", "file=/x,if=none,id=d0"}, "/vm")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.Args, " "); got != "-object secret,id=pw0,file=/vm/secret-pw0 -readconfig /vm/hidden.cfg" {
		t.Errorf("argv: %s", got)
	}
	if string(h.Files["secret-pw0"]) != testSecret {
		t.Errorf("secret file: %q", h.Files["secret-pw0"])
	}
	want := "[device \"n1\"]\n  driver = \"e1000\"\n  mac = \"52:54:00:00:00:01\"\n  romfile = \"a,b\"\n\n[netdev \"nd\"]\n  type = \"user\"\n\n[drive \"d0\"]\n  file = \"/x\"\n  if = \"none\"\n\n"
	if got := string(h.Files[hiddenFile]); got != want {
		t.Errorf("readconfig:\n%s\nwant:\n%s", got, want)
	}
	for _, words := range [][]string{{"-cpu", testSecret}, {testSecret}, {"-device", "e1000,id=" + testSecret + "\""}, {"-device"}} {
		_, err := hideArgs(words, "/vm")
		if err == nil {
			t.Errorf("%q: not refused", words)
		} else if strings.Contains(err.Error(), testSecret) {
			t.Errorf("%q: the refusal echoes the secret: %v", words, err)
		}
	}
	if got := redact("-append pw="+testSecret+" x", sensitiveStrings(cty.ObjectVal(map[string]cty.Value{"kernel_args": cty.StringVal("pw=" + testSecret)}), []cty.Path{cty.GetAttrPath("kernel_args")})); got != "-append (sensitive) x" {
		t.Errorf("redact: %q", got)
	}
}

// TestSystem_sensitiveExtraArgs: a VM whose extra_args comes from a
// sensitive variable starts with none of it in /proc/<pid>/cmdline or in
// qemu.log; the secret reaches QEMU through -object secret's 0600 file
// and the rest through a 0600 -readconfig file, in a 0700 directory.
func TestSystem_sensitiveExtraArgs(t *testing.T) {
	l := newVMLab(t, "x")
	l.AllowHostPaths = true // the kernel is the host's cached Debian kernel
	const a = "vm.a"
	kernel, _ := guestKit(t)
	l.Write(`
variable "pw" {
  default   = "` + testSecret + `"
  sensitive = true
}

vm "k" {
  provider    = qemu
  accel       = "tcg"
  memory      = 128
  adapters    = 0
  console     = "none"
  kernel      = "` + kernel + `"
  kernel_args = "console=ttyS0 panic=-1 labform.pw=${var.pw}"
}

vm "a" {
  provider   = qemu
  accel      = "tcg"
  memory     = 64
  adapters   = 1
  console    = "none"
  extra_args = "-object secret,id=pw0,data=${var.pw} -device virtio-rng-pci,id=rng-${var.pw}"
}
`)
	l.Apply(planner.NormalMode)
	for _, addr := range []string{a, "vm.k"} {
		pid := l.pid(addr)
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(cmdline), testSecret) {
			t.Errorf("the secret is in /proc/%d/cmdline: %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
		if !strings.Contains(string(cmdline), "-readconfig") {
			t.Errorf("no -readconfig in the command line: %s", strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
		log, _ := os.ReadFile(filepath.Join(l.prov.dirOf(l.ID(addr)), logFile))
		if strings.Contains(string(log), testSecret) {
			t.Errorf("%s's qemu.log echoes the secret:\n%s", addr, log)
		}
	}
	dir := l.prov.dirOf(l.ID(a))
	log, err := os.ReadFile(filepath.Join(dir, logFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), testSecret) {
		t.Errorf("qemu.log echoes the secret:\n%s", log)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o700, filepath.Dir(dir): 0o700, filepath.Join(dir, logFile): 0o600,
		filepath.Join(dir, hiddenFile): 0o600, filepath.Join(dir, "secret-pw0"): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %o, want %o", path, st.Mode().Perm(), mode)
		}
	}
	// QEMU did take the hidden options.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := dialQMP(ctx, l.value(a).GetAttr("qmp_socket").AsString(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for path, want := range map[string]string{"/objects": `"pw0"`, "/machine/peripheral": `"rng-` + testSecret + `"`} {
		raw, err := q.do("qom-list", map[string]string{"path": path})
		if err != nil || !strings.Contains(string(raw), want) {
			t.Errorf("qom-list %s lacks %s: %s %v", path, want, raw, err)
		}
	}
	qk, err := dialQMP(ctx, l.value("vm.k").GetAttr("qmp_socket").AsString(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer qk.Close()
	raw, err := qk.do("qom-get", map[string]string{"path": "/machine", "property": "append"})
	if want := `"console=ttyS0 panic=-1 labform.pw=` + testSecret + `"`; err != nil || string(raw) != want {
		t.Errorf("the guest's kernel command line is %s (%v), want %s", raw, err, want)
	}
}

// TestSystem_refusedRestartLeavesTheVMRunning: a restart whose new
// command line cannot be built (a sensitive extra_args with an option
// QEMU cannot read from a file) is refused before the running process is
// stopped: the VM keeps running, and the error says nothing changed.
func TestSystem_refusedRestartLeavesTheVMRunning(t *testing.T) {
	l := newVMLab(t, "y")
	const a = "vm.a"
	lab := func(extra string) string {
		return `
variable "secret" {
  type      = string
  default   = "n0t-in-argv"
  sensitive = true
}
vm "a" {
  provider   = qemu
  accel      = "tcg"
  memory     = 64
  adapters   = 0
  console    = "none"
  extra_args = "-object secret,id=s0,data=${var.secret}` + extra + `"
}
`
	}
	l.Write(lab(""))
	l.Apply(planner.NormalMode)
	pid := l.pid(a)
	l.Write(lab(" -cpu ${var.secret}"))
	p, plan := l.Plan(planner.NormalMode)
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if res == nil || res.Err() == nil || !errors.Is(res.Err(), providers.ErrNothingDone) || strings.Contains(res.Err().Error(), "n0t-in-argv") {
		t.Fatalf("want the restart refused without the secret, got %v", res.Err())
	}
	if _, ok := procStart(pid); !ok || l.status(a) != "running" {
		t.Fatalf("the refused restart stopped the VM (pid %d)", pid)
	}
}
