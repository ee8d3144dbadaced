package main

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/google/shlex"
	"golang.org/x/sys/unix"
)

// appliedTwice applies quickLab, then again with 3 hosts, so that the
// newest backup (taken before the second apply) holds the first apply's
// 5 instances.
func appliedTwice(t *testing.T) *cli {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "apply", "-auto-approve")
	c.must(0, "apply", "-auto-approve", "-var", "hosts=3")
	return c
}

func (c *cli) statePath() string { return filepath.Join(c.dir, ".labform", "state.db") }

var restoreLine = regexp.MustCompile(`(?m)^    (labform .* state restore .*)$`)

// restoreCommand returns the restore command an error message gives, as
// arguments for run (without "labform").
func restoreCommand(t *testing.T, errOut string) []string {
	t.Helper()
	m := restoreLine.FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("the error gives no restore command:\n%s", errOut)
	}
	args, err := shlex.Split(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return args[1:]
}

func TestCLI_emptyStateIsAnErrorNamingTheBackupAndTheRestoreCommand(t *testing.T) {
	c := appliedTwice(t)
	if err := os.Truncate(c.statePath(), 0); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"plan", "-detailed-exitcode"}, {"plan", "-lock=false"}, {"apply", "-auto-approve"},
		{"state", "list"}, {"show"}, {"output"}, {"destroy", "-auto-approve"}} {
		r := c.must(1, args...)
		contains(t, strings.Join(args, " "), r.errOut, "is damaged: the file is empty (0 bytes)", "never treats a damaged state as an empty one",
			"The newest good backup is", "state restore state-")
		if strings.Contains(r.out, "to add") {
			t.Errorf("%s planned from an empty state:\n%s", strings.Join(args, " "), r.out)
		}
	}
	if c.objects() != 7 {
		t.Fatalf("%d objects, want the 7 of the lab untouched", c.objects())
	}
	// The command the message gives restores the state.
	r := c.must(1, "plan")
	restore := restoreCommand(t, r.errOut)
	var out, errOut bytes.Buffer
	f := false
	if code := run(append(restore, "-no-color"), c.reg, stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &f}); code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", strings.Join(restore, " "), code, out.String(), errOut.String())
	}
	contains(t, "restore", out.String(), "Restored", "serial is now", "run plan")
	r = c.must(0, "state", "list")
	if n := len(strings.Fields(r.out)); n != 5 {
		t.Fatalf("restored state lists %d instances, want the 5 of the first apply:\n%s", n, r.out)
	}
	c.must(0, "state", "restore", "-list")
	r = c.must(1, "state", "restore")
	contains(t, "restore over a good state", r.errOut, "not damaged", "-force")
}

func TestCLI_garbageAndDamagedStateExitOne(t *testing.T) {
	c := appliedTwice(t)
	good, err := os.ReadFile(c.statePath())
	if err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) {
		if err := os.WriteFile(c.statePath(), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(bytes.Repeat([]byte("garbage!"), 4096))
	r := c.must(1, "plan", "-detailed-exitcode")
	contains(t, "garbage", r.errOut, "is damaged", "no bbolt magic number", "The newest good backup is", "state restore")
	r = c.must(1, "state", "list")
	contains(t, "garbage, state list", r.errOut, "is damaged", "state restore")

	// Random damage to the pages: never a crash, never exit 2 from a
	// damaged state; exit 0 or 2 only when the state read back whole.
	rng := rand.New(rand.NewSource(7))
	ps := os.Getpagesize()
	errs, intact := 0, 0
	for i := 0; i < 40; i++ {
		d := append([]byte(nil), good...)
		p := 2 + rng.Intn(len(d)/ps-2)
		for j := 0; j < 1+rng.Intn(6); j++ {
			d[p*ps+rng.Intn(ps)] ^= byte(1 + rng.Intn(255))
		}
		if i%4 == 0 {
			rng.Read(d[p*ps : (p+1)*ps])
		}
		write(d)
		r := c.run("", false, "plan", "-detailed-exitcode", "-refresh=false")
		if strings.Contains(r.errOut, "crashed") {
			t.Fatalf("damage %d: labform crashed:\n%s", i, r.errOut)
		}
		switch r.code {
		case 1:
			errs++
			contains(t, "damaged plan", r.errOut, "is damaged", "state restore")
		case 0, 2:
			intact++
			if l := c.must(0, "state", "list"); len(strings.Fields(l.out)) != 7 {
				t.Fatalf("damage %d: plan exited %d on a state that lists:\n%s", i, r.code, l.out)
			}
		default:
			t.Fatalf("damage %d: exit %d", i, r.code)
		}
	}
	t.Logf("40 page corruptions at the CLI: %d exit 1 with a restore command, %d read back whole", errs, intact)
}

// TestCLI_readOnlyState: the commands that only read work on a state in a
// read-only directory (as a user who cannot write it: root writes
// anywhere), write nothing there, and plan -lock=false works too.
func TestCLI_readOnlyState(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "apply", "-auto-approve")
	lf := filepath.Join(c.dir, ".labform")
	os.Remove(filepath.Join(lf, "state.db.lock-info"))
	before := listTree(t, c.dir)
	// Everyone may read and traverse; no one may write.
	for _, p := range []string{filepath.Dir(c.dir), c.dir, lf, filepath.Join(lf, "backups")} {
		os.Chmod(p, 0o555)
	}
	filepath.Walk(c.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			os.Chmod(p, 0o444)
		}
		return nil
	})
	t.Cleanup(func() {
		filepath.Walk(filepath.Dir(c.dir), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	bin := filepath.Join(t.TempDir(), "labform.test")
	copyFile(t, os.Args[0], bin)
	for d := filepath.Dir(bin); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	labform := func(args ...string) (int, string) {
		cmd := exec.Command(bin, append([]string{"-chdir=" + c.dir, "-no-color"}, args...)...)
		cmd.Env = append(os.Environ(), "LABFORM_TEST_MAIN=1", "LABFORM_TEST_MEMDIR="+t.TempDir(), "HOME=/nonexistent")
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	for _, args := range [][]string{{"state", "list"}, {"state", "list", "-lock=false"}, {"state", "show", "vm.router"},
		{"show"}, {"show", "-json"}, {"output"}, {"output", "-lock=false", "hostnames"}, {"state", "pull"},
		{"plan", "-lock=false", "-refresh=false"}, {"state", "restore", "-list"}} {
		code, out := labform(args...)
		if code != 0 {
			t.Errorf("%s on a read-only state: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	code, out := labform("plan", "-refresh=false")
	if code != 1 || !strings.Contains(out, "-lock=false") {
		t.Errorf("plan with the lock on a read-only state: exit %d, want 1 and a hint at -lock=false:\n%s", code, out)
	}
	code, out = labform("apply", "-auto-approve", "-lock=false")
	if code != 1 || !strings.Contains(out, "always takes its lock") {
		t.Errorf("apply -lock=false: exit %d, want 1 and a refusal:\n%s", code, out)
	}
	if after := listTree(t, c.dir); after != before {
		t.Errorf("the read commands changed the lab directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestCLI_readCommandsDoNotWaitForTheLock: while another run holds the
// lock, the read commands and plan -lock=false go on; plan does not.
func TestCLI_readCommandsDoNotWaitForTheLock(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "apply", "-auto-approve")
	f, err := os.OpenFile(c.statePath(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	c.must(0, "state", "list")
	c.must(0, "show")
	c.must(0, "output")
	c.must(0, "plan", "-lock=false", "-detailed-exitcode")
	r := c.must(1, "plan")
	contains(t, "plan while locked", r.errOut, "locked", "-lock-timeout")
}

func listTree(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			b.WriteString(strings.TrimPrefix(p, dir) + " " + fi.ModTime().String() + "\n")
		}
		return nil
	})
	return b.String()
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestCLI_damagedStateWithoutBackup(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "plan")
	if err := os.Truncate(c.statePath(), 0); err != nil {
		t.Fatal(err)
	}
	r := c.must(1, "plan", "-detailed-exitcode")
	contains(t, "no backup", r.errOut, "is damaged: the file is empty (0 bytes)", "No good backup was found", "never applied")
	r = c.must(1, "state", "restore")
	contains(t, "restore without backups", r.errOut, "no backup in")
}

// pulledSerial is the state's serial, as state pull shows it.
func (c *cli) pulledSerial() uint64 {
	c.t.Helper()
	var doc struct {
		Serial uint64 `json:"serial"`
	}
	if err := json.Unmarshal([]byte(c.must(0, "state", "pull").out), &doc); err != nil {
		c.t.Fatal(err)
	}
	return doc.Serial
}

// TestCLI_stateMvIsOneWrite: state mv relabels the record and rewrites
// the records that name it (a link's endpoints) in one write: the serial
// rises by one. A move that is refused writes nothing.
func TestCLI_stateMvIsOneWrite(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "apply", "-auto-approve")
	for _, tc := range []struct {
		args []string
		code int
		rise uint64
		want string // in the output
	}{
		{[]string{"container.host[0]", "container.first"}, 0, 1, "Successfully moved 1 object(s)"},
		{[]string{"container.host[1]", "container.first"}, 1, 0, "container.first already exists in state"},
		{[]string{"container.nope", "container.other"}, 1, 0, "no instance container.nope in state"},
	} {
		before := c.pulledSerial()
		r := c.must(tc.code, append([]string{"state", "mv"}, tc.args...)...)
		contains(t, "state mv "+strings.Join(tc.args, " "), r.out+r.errOut, tc.want)
		if after := c.pulledSerial(); after != before+tc.rise {
			t.Errorf("state mv %s: serial %d -> %d, want a rise of %d", strings.Join(tc.args, " "), before, after, tc.rise)
		}
	}
	// The link that named the moved container names its new address.
	contains(t, "the link's record", c.stateShow("link.wire[0]"), `"container.first"`)
	if show := c.stateShow("link.wire[0]"); strings.Contains(show, "container.host[0]") {
		t.Errorf("the link still names the old address:\n%s", show)
	}
}
