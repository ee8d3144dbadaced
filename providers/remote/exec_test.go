package remote

import (
	"bytes"
	"strings"
	"testing"

	"github.com/labform/labform/internal/agent"
)

// TestMarkerFilter: the command's stderr passes through, written in any
// chunks; the agent's own error line, after the marker, is kept apart,
// even when the marker is split across writes.
func TestMarkerFilter(t *testing.T) {
	stream := "warning: x\nmore\x00 output\n" + agent.ErrorMarker + "the node is stopped\n"
	for _, size := range []int{1, 2, 3, 7, 19, len(stream)} {
		var out bytes.Buffer
		f := &markerFilter{w: &out}
		for i := 0; i < len(stream); i += size {
			f.Write([]byte(stream[i:min(i+size, len(stream))]))
		}
		f.flush()
		if out.String() != "warning: x\nmore\x00 output\n" || f.message != "the node is stopped" {
			t.Errorf("chunks of %d: passed %q, kept %q", size, out.String(), f.message)
		}
	}
	// Without the marker, everything passes, held-back bytes included.
	var out bytes.Buffer
	f := &markerFilter{w: &out}
	f.Write([]byte("ends with \x00lab"))
	f.flush()
	if out.String() != "ends with \x00lab" || f.message != "" {
		t.Errorf("no marker: passed %q, kept %q", out.String(), f.message)
	}
	if strings.Contains(agent.ErrorMarker, "\n") {
		t.Fatal("the marker must not hold a newline")
	}
}
