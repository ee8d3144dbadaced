package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/providers/all"
)

// TestExpressionDepth: nesting that would overflow HCL's recursive parser
// is refused before it parses, with the file and line; the same bytes in
// strings, heredocs and comments are text and pass.
func TestExpressionDepth(t *testing.T) {
	const n = 100000
	deep := map[string]string{
		"parentheses":    "x = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"brackets":       "x = " + strings.Repeat("[", n) + strings.Repeat("]", n),
		"objects":        "x = " + strings.Repeat("{a = ", n) + "1" + strings.Repeat("}", n),
		"plus chain":     "x = 1" + strings.Repeat("+1", n),
		"unary minus":    "x = " + strings.Repeat("-", n) + "1",
		"not":            "x = " + strings.Repeat("!", n) + "true",
		"conditionals":   "x = " + strings.Repeat("true ? 1 : ", n) + "1",
		"interpolation":  `x = "` + strings.Repeat(`${"`, n) + "a" + strings.Repeat(`"}`, n) + `"`,
		"index chain":    "x = local.y" + strings.Repeat("[local.z]", n),
		"heredoc interp": "x = <<EOT\n" + strings.Repeat("${", n) + "1" + strings.Repeat("}", n) + "\nEOT",
	}
	for name, expr := range deep {
		t.Run(name, func(t *testing.T) {
			src := []byte("locals {\n  " + expr + "\n}\n")
			l := config.NewLab("/lab", all.Registry())
			diags := l.AddFile("/lab/deep.lab.hcl", src)
			if !diags.HasErrors() || diags[0].Summary != "Expression nested too deeply" {
				t.Fatalf("want a nesting error, got %v", diags)
			}
			line := 2
			if strings.Contains(expr, "<<") {
				line = 3 // the heredoc's text
			}
			if s := diags[0].Subject; s == nil || s.Filename != "/lab/deep.lab.hcl" || s.Start.Line != line {
				t.Errorf("want the error on line %d of the file, got %v", line, s)
			}
		})
	}
	text := strings.Repeat("((((+-!?:[{", 2000)
	fine := map[string]string{
		"string":        `x = "` + text + `"`,
		"heredoc":       "x = <<-EOT\n  " + text + "\n  EOT",
		"comment":       "# " + text + "\n  x = 1",
		"block comment": "/* " + text + " */ x = 1",
		"long list":     "x = [" + strings.Repeat("1 + 1, ", 20000) + "1]",
		"many lines":    strings.Repeat("a = 1 + 2 + 3\n  ", 1) + "x = 1",
		"dollar text":   `x = "$${` + text + `"`,
	}
	for name, body := range fine {
		t.Run(name, func(t *testing.T) {
			src := []byte("locals {\n  " + body + "\n}\n")
			l := config.NewLab("/lab", all.Registry())
			if diags := l.AddFile("/lab/fine.lab.hcl", src); diags.HasErrors() {
				t.Fatalf("a valid file is refused: %v", diags)
			}
		})
	}
}

// TestFileSizeLimit: a lab file over MaxFileSize is refused, by Load
// before reading it and by AddFile.
func TestFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, config.MaxFileSize+1)
	for i := range big {
		big[i] = '\n'
	}
	if err := os.WriteFile(filepath.Join(dir, "big.lab.hcl"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags := config.Load(dir, all.Registry())
	wantRefused(t, diags, "Lab file too large", filepath.Join(dir, "big.lab.hcl"))
	diags = config.NewLab(dir, all.Registry()).AddFile("x.lab.hcl", big)
	wantRefused(t, diags, "Lab file too large", "x.lab.hcl")
}

// TestLabFilesThatAreNotRegular: FIFOs, devices, directories and links
// that lead outside the lab directory are refused without being read:
// nothing hangs, nothing is read until memory runs out, and a secret's
// content never shows in a diagnostic.
func TestLabFilesThatAreNotRegular(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("hunter2 = the-secret-line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "lab.lab.hcl"), []byte("vm \"x\" {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		make    func(path string) error
		summary string
	}{
		"fifo":          {func(p string) error { return syscall.Mkfifo(p, 0o600) }, "Lab file is not a regular file"},
		"dev-zero":      {func(p string) error { return os.Symlink("/dev/zero", p) }, "Lab file outside the lab directory"},
		"directory":     {func(p string) error { return os.Mkdir(p, 0o700) }, "Lab file is not a regular file"},
		"secret":        {func(p string) error { return os.Symlink(secret, p) }, "Lab file outside the lab directory"},
		"relative-link": {func(p string) error { return os.Symlink("../"+filepath.Base(outside)+"/lab.lab.hcl", p) }, "Lab file outside the lab directory"},
		"dangling":      {func(p string) error { return os.Symlink("nowhere.txt", p) }, "Cannot read a lab file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(filepath.Dir(outside), "lab-"+name)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			path := filepath.Join(dir, "main.lab.hcl")
			if err := c.make(path); err != nil {
				t.Fatal(err)
			}
			done := make(chan hcl.Diagnostics, 1)
			go func() {
				_, diags := config.Load(dir, all.Registry())
				done <- diags
			}()
			select {
			case diags := <-done:
				wantRefused(t, diags, c.summary, path)
				for _, d := range diags {
					if strings.Contains(d.Error(), "hunter2") || strings.Contains(d.Error(), "the-secret-line") {
						t.Errorf("a diagnostic shows the secret: %s", d.Error())
					}
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Load hangs")
			}
		})
	}
	// A link inside the lab directory to another file of it is fine.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "real.hcl"), []byte("lab {\n  name = \"x\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.hcl", filepath.Join(dir, "main.lab.hcl")); err != nil {
		t.Fatal(err)
	}
	if _, diags := config.Load(dir, all.Registry()); diags.HasErrors() {
		t.Errorf("a link within the lab directory is refused: %v", diags)
	}
}

func wantRefused(t *testing.T, diags hcl.Diagnostics, summary, file string) {
	t.Helper()
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic %q, got %v", summary, diags)
	}
	d := diags[0]
	if d.Severity != hcl.DiagError || d.Summary != summary {
		t.Errorf("want %q, got %s", summary, d.Error())
	}
	if d.Subject == nil || d.Subject.Filename != file || d.Subject.Start.Line != 1 {
		t.Errorf("want the diagnostic on %s:1, got %v", file, d.Subject)
	}
}

// TestTokenLimit: what HCL holds in memory grows with the tokens, so a
// lab is refused past MaxTokens, over all its files, before any parser
// runs; a large lab as people write it stays far below.
func TestTokenLimit(t *testing.T) {
	list := func(n int) []byte {
		return []byte("locals {\n  x = [" + strings.Repeat("1,", n) + "]\n}\n")
	}
	l := config.NewLab("/lab", all.Registry())
	if diags := l.AddFile("/lab/a.lab.hcl", list(config.MaxTokens/2-100)); diags.HasErrors() {
		t.Fatalf("half the budget is refused: %v", diags)
	}
	diags := l.AddFile("/lab/b.lab.hcl", list(config.MaxTokens/4))
	wantRefused(t, diags, "Lab too large", "/lab/b.lab.hcl")

	var b strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "container \"c%d\" {\n  rootfs   = \"rootfs\"\n  command  = [\"sleep\", \"infinity\"]\n  hostname = \"host%d\"\n  addresses = {\n    eth0 = [\"10.%d.%d.2/24\"]\n  }\n}\n", i, i, i/250, i%250)
	}
	l = config.NewLab("/lab", all.Registry())
	if diags := l.AddFile("/lab/big.lab.hcl", []byte(b.String())); diags.HasErrors() {
		t.Fatalf("a lab of 5,000 containers written out (%d bytes) is refused: %v", b.Len(), diags)
	}
}
