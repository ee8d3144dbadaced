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
	for _, m := range blocks {
		line := 1 + bytes.Count(src[:m[0]], []byte("\n"))
		example := string(src[m[2]:m[3]])
		t.Run(filepath.Base("line"+itoa(line)), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(example), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			terminal := false
			code := run([]string{"-chdir=" + dir, "-no-color", "validate"}, all.Registry(),
				stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &terminal})
			if code != 0 {
				t.Errorf("docs/language.md line %d: validate exit %d\n%s%s", line, code, out.String(), errOut.String())
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
