package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenHostDiagnostics compares validate's output for mistakes in
// host blocks and placements: a host not declared, a host written as a
// string, a host on a link, an ssh address without a user, and a link
// across hosts whose mtu leaves no room for VXLAN's headers.
func TestGoldenHostDiagnostics(t *testing.T) {
	for _, dir := range []string{"../../testdata/hosts", "../../testdata/hosts/mtu"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "main.lab.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			c := newCLI(t, map[string]string{"main.lab.hcl": string(src)})
			r := c.must(1, "validate")
			got := strings.ReplaceAll(r.errOut, c.dir, "LABDIR")
			checkGolden(t, filepath.Join(dir, "validate.golden"), got)
		})
	}
}
