package systest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RuncIDs lists the containers under a runc root; a runc that fails
// fails the test (a check that nothing is left must look). A root that
// does not exist holds none, and is not created: `runc list` would make
// it, and every test that looked would leave an empty directory in
// /run/labform.
func RuncIDs(t testing.TB, root string) []string {
	t.Helper()
	ids, err := runcIDs(root)
	if err != nil {
		t.Errorf("listing the containers under %s: %v", root, err)
	}
	return ids
}

func runcIDs(root string) ([]string, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, nil
	}
	out, err := exec.Command("runc", "--root", root, "list", "-q").Output()
	return strings.Fields(string(out)), err
}

// RemoveRuncRoot force-deletes every container under a runc root and
// removes the root: a test's cleanup after labform's own destroy.
func RemoveRuncRoot(root string) {
	ids, _ := runcIDs(root)
	for _, id := range ids {
		exec.Command("runc", "--root", root, "delete", "-f", id).Run()
	}
	os.RemoveAll(root)
}
