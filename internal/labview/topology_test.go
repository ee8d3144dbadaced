package labview

import "testing"

// TestMermaidText: what a label holds is text, whatever characters an
// address or image carries; only the line breaks are markup.
func TestMermaidText(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"plain", []string{"container.r1", "container"}, `"container.r1<br/>container"`},
		{"quotes", []string{`container.n["a"]`}, `"container.n[#quot;a#quot;]"`},
		{"an entity code lookalike", []string{`container.n["#1;"]`}, `"container.n[#quot;#35;1;#quot;]"`},
		{"html", []string{`container.n["<b>x</b>"]`}, `"container.n[#quot;#lt;b#gt;x#lt;/b#gt;#quot;]"`},
		{"pipes and brackets", []string{`container.n["x|y]"]`}, `"container.n[#quot;x|y]#quot;]"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mermaidText(tc.lines); got != tc.want {
				t.Errorf("mermaidText(%q) = %s, want %s", tc.lines, got, tc.want)
			}
		})
	}
}
