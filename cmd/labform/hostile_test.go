package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/providers/all"
)

// TestCLI_hostileInputIsRefusedAtValidate runs the reproducers of the
// hostile-input finding through `labform validate` with the real
// providers: each is refused, quickly, with the file and line, what to do
// instead, and never a crash or a hang.
func TestCLI_hostileInputIsRefusedAtValidate(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{name: "built-in chain", src: "firewall_chain \"FORWARD\" {\n  target = lab\n}\n",
			want: []string{"Error: Reserved chain name", "main.lab.hcl line 1", `set hooks = ["FORWARD"]`}},
		{name: "INPUT in lower case", src: "firewall_chain \"input\" {\n  target = lab\n}\n",
			want: []string{"Error: Reserved chain name", "main.lab.hcl line 1"}},
		{name: "host path", src: "container \"c\" {\n  rootfs = \"/\"\n}\n",
			want: []string{"Error: Path outside the lab directory", "main.lab.hcl line 2", "allow_host_paths = true"}},
		{name: "count", src: "container \"c\" {\n  count  = 100000\n  rootfs = \"rootfs\"\n}\n",
			want: []string{"Error: Invalid count argument", "main.lab.hcl line 2", "between 0 and 10000"}},
		{name: "nesting", src: "locals {\n  x = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "\n}\n",
			want: []string{"Error: Expression nested too deeply", "main.lab.hcl line 2"}},
		{name: "link state", src: "container \"c\" {\n  rootfs = \"rootfs\"\n  ports = 2\n}\nlink \"l\" {\n  endpoints = container.c.port\n  state     = \"dwon\"\n}\n",
			want: []string{"Error: Invalid value for state", "main.lab.hcl line 7", `Did you mean "down"?`}},
		{name: "container state", src: "container \"c\" {\n  rootfs = \"rootfs\"\n  state  = \"stoped\"\n}\n",
			want: []string{"Error: Invalid value for state", "main.lab.hcl line 3", `Did you mean "stopped"?`}},
		{name: "missing for_each key", src: "container \"c\" {\n  for_each = toset([\"a\", \"b\"])\n  rootfs   = \"rootfs\"\n}\nlink \"l\" {\n  endpoints = [container.c[\"a\"].port[0], container.c[\"x\"].port[0]]\n}\n",
			want: []string{"Error: No instance with this key", "main.lab.hcl line 6", `container.c has no instance with key "x"; its keys are "a", "b".`}},
		{name: "fifo", setup: func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "main.lab.hcl"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"Error: Lab file is not a regular file", "main.lab.hcl line 1", "a named pipe"}},
		{name: "dev zero", setup: func(t *testing.T, dir string) {
			if err := os.Symlink("/dev/zero", filepath.Join(dir, "main.lab.hcl")); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"Error: Lab file outside the lab directory", "main.lab.hcl line 1"}},
		{name: "secret", setup: func(t *testing.T, dir string) {
			secret := filepath.Join(t.TempDir(), "secret")
			os.WriteFile(secret, []byte("root_password = \"s3cr3t\"\n"), 0o600)
			if err := os.Symlink(secret, filepath.Join(dir, "main.lab.hcl")); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"Error: Lab file outside the lab directory", "main.lab.hcl line 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.setup != nil {
				c.setup(t, dir)
			} else if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			f := false
			start := time.Now()
			code := run([]string{"-chdir=" + dir, "-no-color", "validate"}, all.Registry(), stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &f})
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("validate took %v", took)
			}
			if code != 1 {
				t.Fatalf("validate: exit %d, want 1\n%s%s", code, out.String(), errOut.String())
			}
			// Details are wrapped at the terminal's width: compare words.
			flat := strings.Join(strings.Fields(errOut.String()), " ")
			for _, w := range c.want {
				if !strings.Contains(flat, w) {
					t.Errorf("the output lacks %q:\n%s", w, errOut.String())
				}
			}
			if strings.Contains(errOut.String(), "s3cr3t") {
				t.Errorf("the output shows the secret:\n%s", errOut.String())
			}
		})
	}
}

// TestCLI_fmtRefusesWhatValidateRefuses: fmt reads a directory's lab files
// as validate does: a FIFO does not hang it, a link to a secret is not
// shown in a diff, and the other files are still checked.
func TestCLI_fmtRefusesWhatValidateRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "a.lab.hcl"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("password   =   \"s3cr3t\"\n"), 0o600)
	os.Symlink(secret, filepath.Join(dir, "b.lab.hcl"))
	os.WriteFile(filepath.Join(dir, "c.lab.hcl"), []byte("x   = 1\n"), 0o644)
	done := make(chan [2]string, 1)
	go func() {
		var out, errOut bytes.Buffer
		f := false
		run([]string{"-chdir=" + dir, "-no-color", "fmt", "-check", "-diff"}, all.Registry(), stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &f})
		done <- [2]string{out.String(), errOut.String()}
	}()
	select {
	case r := <-done:
		all := strings.Join(strings.Fields(r[0]+r[1]), " ")
		for _, w := range []string{"Lab file is not a regular file", "Lab file outside the lab directory", "c.lab.hcl"} {
			if !strings.Contains(all, w) {
				t.Errorf("fmt's output lacks %q:\n%s", w, all)
			}
		}
		if strings.Contains(all, "s3cr3t") {
			t.Errorf("fmt shows the secret:\n%s", all)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fmt hangs on a FIFO")
	}
}
