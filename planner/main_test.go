package planner_test

import (
	"os"
	"testing"

	"github.com/labform/labform/internal/labreg"
)

// TestMain keeps the in-memory labs of these tests out of the host's
// record of running labs.
func TestMain(m *testing.M) {
	cleanup := labreg.ForTests()
	code := m.Run()
	cleanup()
	os.Exit(code)
}
