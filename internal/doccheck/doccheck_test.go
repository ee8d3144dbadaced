package doccheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// arriving lists pages that the README and docs link to while they are
// written on other branches. Once a page exists, TestRepositoryDocs fails
// until its entry is removed here, so the list empties itself.
var arriving = map[string]bool{}

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the repository root %s has no go.mod: %v", root, err)
	}
	return root
}

// TestRepositoryDocs checks README.md and every page under docs/.
func TestRepositoryDocs(t *testing.T) {
	root := repoRoot(t)
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found only %v: expected README.md and the pages under docs/", files)
	}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range Check(root, f, src, arriving) {
			t.Error(p)
		}
	}
	for p := range arriving {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
			t.Errorf("%s exists now: remove it from the arriving list in %s", p, "internal/doccheck/doccheck_test.go")
		}
	}
}

// shared is the folder beside the repository that a clone does not have,
// spelled in pieces so that this file names no path outside it.
const shared = ".." + "/" + "shared"

// design is the design document in that folder, spelled in pieces too.
const design = "DESIGN" + ".md"

func TestCheck(t *testing.T) {
	root := t.TempDir()
	for f, content := range map[string]string{
		"README.md":                        "# labform\n",
		"docs/state.md":                    "# State\n\n## Backups\n\n## The `state` commands\n\n## Backups\n",
		"docs/providers/qemu.md":           "",
		"examples/quickstart/main.lab.hcl": "",
	} {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		file string
		src  string
		want []string // substrings of the problems, in order; none for a clean document
	}{
		{"clean", "README.md", "# labform\n\nSee [state](docs/state.md#backups), [the reference](docs/providers/),\n" +
			"[the example](examples/quickstart/main.lab.hcl), [Terraform](https://developer.hashicorp.com/terraform)\n" +
			"and [below](#install). A heading:\n\n## Install\n\n`container.a.port[0]` and &#123; are fine.\n", nil},
		{"issue number", "README.md", "Line one.\nThis came with issue 12.\n", []string{`README.md:2: "issue 12"`}},
		{"issues plural, with a hash", "docs/state.md", "Fixed in Issues #3 and #4.\n", []string{`"Issues #3"`, `"#3"`, `"#4"`}},
		{"hash reference", "README.md", "See #42 for why.\n", []string{`README.md:1: "#42"`}},
		{"hash reference in parentheses", "README.md", "Done (#7).\n", []string{`"#7"`}},
		{"the design document", "README.md", "\n\nThe language of " + design + " section 2.\n", []string{`README.md:3: "` + design + `"`}},
		{"shared folder", "docs/state.md", "Read " + shared + "/notes.md.\n", []string{`"` + shared + `"`}},
		{"missing file", "README.md", "Text.\n\nSee [gone](docs/gone.md) here.\n", []string{`README.md:3: link "docs/gone.md": docs/gone.md does not exist`}},
		{"missing file with an anchor", "docs/state.md", "See [x](other.md#part).\n", []string{`docs/other.md does not exist`}},
		{"relative to the document's folder", "docs/state.md", "See [the README](../README.md) and [qemu](providers/qemu.md).\n", nil},
		{"a path from the root, written from docs/", "docs/state.md", "See [qemu](docs/providers/qemu.md).\n", []string{`docs/docs/providers/qemu.md does not exist`}},
		{"outside the repository", "docs/state.md", "See [design](../" + shared + "/x.md).\n", []string{`"` + shared + `"`, `leads outside the repository`}},
		{"absolute path", "README.md", "See [design](/etc/passwd).\n", []string{`is an absolute path`}},
		{"image", "README.md", "![graph](docs/graph.svg)\n", []string{`docs/graph.svg does not exist`}},
		{"reference link", "README.md", "See [the state][s].\n\n[s]: docs/missing.md\n", []string{`docs/missing.md does not exist`}},
		{"anchors", "docs/state.md", "See [the commands](#the-state-commands), [the second](state.md#backups-1),\n[the README](../README.md#labform).\n\n## The `state` commands\n", nil},
		{"missing anchor here", "README.md", "# labform\n\nSee [below](#install).\n", []string{`README.md:3: link "#install": README.md has no heading with that anchor`}},
		{"missing anchor there", "README.md", "See [backups](docs/state.md#restore).\n", []string{`docs/state.md has no heading with that anchor`}},
		{"pending page", "README.md", "See [the language](docs/language.md).\n", nil},
		{"link in a code span is text", "README.md", "Write `[x](nothing.md)` to link.\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probs := Check(root, tt.file, []byte(tt.src), map[string]bool{"docs/language.md": true})
			if len(probs) != len(tt.want) {
				t.Fatalf("got %d problems %v, want %d: %q", len(probs), probs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(probs[i].String(), w) {
					t.Errorf("problem %d is %q, want it to contain %q", i, probs[i], w)
				}
			}
		})
	}
}

func TestFiles(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"README.md", "docs/b.md", "docs/a.md", "docs/providers/qemu.md", "docs/notes.txt", "other.md"} {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	want := "README.md docs/a.md docs/b.md docs/providers/qemu.md"
	if strings.Join(got, " ") != want {
		t.Errorf("Files = %v, want %s", got, want)
	}
}

func TestAnchors(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"# labform\n", []string{"labform"}},
		{"## Five-minute tutorial\n", []string{"five-minute-tutorial"}},
		{"## The engine: `make bench`\n", []string{"the-engine-make-bench"}},
		{"## What labform does (an overview)\n", []string{"what-labform-does-an-overview"}},
		{"## Tool calls and their timeout\n", []string{"tool-calls-and-their-timeout"}},
		{"## Backups\n\n## Backups\n\n## Backups\n", []string{"backups", "backups-1", "backups-2"}},
		{"Setext heading\n==============\n", []string{"setext-heading"}},
		{"Not a heading.\n\n```\n# in a code block\n```\n", nil},
	}
	for _, tt := range tests {
		got := Anchors([]byte(tt.src))
		if len(got) != len(tt.want) {
			t.Errorf("Anchors(%q) = %v, want %v", tt.src, got, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("Anchors(%q) = %v, want %v", tt.src, got, tt.want)
			}
		}
	}
}
