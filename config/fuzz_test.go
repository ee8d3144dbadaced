package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader and evaluator as a lab
// file: whatever the input, labform answers with diagnostics, never a
// panic. The seed corpus is every lab file under testdata.
//
//	go test ./config -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/config/*/*.lab.hcl")
	more, _ := filepath.Glob("../testdata/design/*.lab.hcl")
	examples, _ := filepath.Glob("../examples/*/*.lab.hcl")
	for _, s := range append(append(seeds, more...), examples...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		loadAndEval(t, "/fuzz/lab/fuzz.lab.hcl", src)
	})
}

// FuzzNesting repeats a fragment thousands of times inside an expression,
// to reach nesting that random bytes alone never do: whatever the
// fragment, HCL never recurses past the stack (which no recover could
// catch), because the depth check refuses the file first.
//
//	go test ./config -run '^$' -fuzz FuzzNesting -fuzztime 60s
func FuzzNesting(f *testing.F) {
	for _, s := range []string{"(", "[", "{a=", "-", "!", "true?1:", "1+", `"${`, "x[y]", "<<EOT\n${", "[for x in y: ", "f(", "a.b[", "${\"", "%{if x}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frag []byte) {
		if len(frag) == 0 || len(frag) > 16 {
			return
		}
		src := append([]byte("locals {\n  x = "), bytes.Repeat(frag, 200000/len(frag))...)
		loadAndEval(t, "/fuzz/lab/nest.lab.hcl", append(src, "\n}\n"...))
	})
}
