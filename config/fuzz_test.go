package config_test

import (
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
