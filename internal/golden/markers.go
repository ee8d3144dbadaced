package golden

import (
	"regexp"
	"strings"
	"testing"
)

var marker = regexp.MustCompile(`# ERROR: (.*)$`)

// Markers reads the "# ERROR: summary" markers of an invalid lab file:
// the summary of the error expected on each marked line (1-based).
func Markers(src []byte) map[int]string {
	want := map[int]string{}
	for i, line := range strings.Split(string(src), "\n") {
		if m := marker.FindStringSubmatch(line); m != nil {
			want[i+1] = m[1]
		}
	}
	return want
}

// CheckLines compares the error summaries found per line with the
// markers: every marked line has its error, and no other line has one.
func CheckLines(t testing.TB, got, want map[int]string) {
	t.Helper()
	for line, s := range want {
		if got[line] != s {
			t.Errorf("line %d: got %q, want %q", line, got[line], s)
		}
	}
	for line, s := range got {
		if _, ok := want[line]; !ok {
			t.Errorf("unexpected error on line %d: %s", line, s)
		}
	}
}
