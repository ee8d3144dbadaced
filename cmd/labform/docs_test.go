package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/labform/labform/providers/all"
)

var hclBlock = regexp.MustCompile("(?ms)^```hcl\n(.*?)^```")

// TestLanguageDocExamples runs `labform validate` with the real providers
// on every hcl example of docs/language.md, each as a lab of its own.
func TestLanguageDocExamples(t *testing.T) {
	src, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := hclBlock.FindAllStringSubmatchIndex(string(src), -1)
	if len(blocks) < 10 {
		t.Fatalf("found %d hcl examples in docs/language.md; the extraction is broken", len(blocks))
	}
	// An example whose first line is "# file: PATH" is another file of
	// the lab of the example before it.
	type lab struct {
		line  int
		files map[string]string
	}
	var labs []*lab
	for _, m := range blocks {
		line := 1 + bytes.Count(src[:m[0]], []byte("\n"))
		example := string(src[m[2]:m[3]])
		if first, rest, ok := strings.Cut(example, "\n"); ok && strings.HasPrefix(first, "# file: ") {
			if len(labs) == 0 {
				t.Fatalf("docs/language.md line %d: a # file: example with no example before it", line)
			}
			labs[len(labs)-1].files[strings.TrimPrefix(first, "# file: ")] = rest
			continue
		}
		labs = append(labs, &lab{line: line, files: map[string]string{"main.lab.hcl": example}})
	}
	for _, l := range labs {
		t.Run(filepath.Base("line"+itoa(l.line)), func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range l.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out, errOut bytes.Buffer
			terminal := false
			code := run([]string{"-chdir=" + dir, "-no-color", "validate"}, all.Registry(),
				stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &terminal})
			if code != 0 {
				t.Errorf("docs/language.md line %d: validate exit %d\n%s%s", l.line, code, out.String(), errOut.String())
			}
		})
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}
