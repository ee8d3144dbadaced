package graphviz

import (
	"context"
	"strings"
	"testing"
)

func TestSVG(t *testing.T) {
	for name, tc := range map[string]struct {
		dot   string
		wants []string
		fails bool
	}{
		"a wire":   {dot: `graph "g" { "vm.a" -- "container.b" [taillabel="eth0"] }`, wants: []string{"<svg", "<title>vm.a</title>", "<title>container.b</title>", ">eth0</text>"}},
		"bad text": {dot: `graph { a -- `, fails: true},
	} {
		t.Run(name, func(t *testing.T) {
			svg, err := SVG(context.Background(), []byte(tc.dot))
			if tc.fails {
				if err == nil {
					t.Fatalf("no error for %q:\n%s", tc.dot, svg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(string(svg), w) {
					t.Errorf("the SVG has no %q:\n%s", w, svg)
				}
			}
		})
	}
}
