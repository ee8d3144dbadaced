package systest

import (
	"os"
	"os/exec"
	"strings"
)

// RuncIDs lists the containers under a runc root. A root that does not
// exist holds none, and is not created: `runc list` would make it, and
// every test that looked would leave an empty directory in /run/labform.
func RuncIDs(root string) []string {
	if _, err := os.Stat(root); err != nil {
		return nil
	}
	out, _ := exec.Command("runc", "--root", root, "list", "-q").Output()
	return strings.Fields(string(out))
}

// RemoveRuncRoot force-deletes every container under a runc root and
// removes the root: a test's cleanup after labform's own destroy.
func RemoveRuncRoot(root string) {
	for _, id := range RuncIDs(root) {
		exec.Command("runc", "--root", root, "delete", "-f", id).Run()
	}
	os.RemoveAll(root)
}
