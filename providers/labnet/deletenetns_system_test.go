package labnet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A delete killed between its unmount and its remove leaves the namespace
// file as a plain file; the next delete finishes it instead of failing
// with "invalid argument".
func TestDeleteNetns_finishesAnInterruptedDelete(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to write under " + Dir)
		}
		t.Skip("needs root to write under " + Dir)
	}
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("lftest-del-%d", os.Getpid())
	path := filepath.Join(Dir, name)
	t.Cleanup(func() { os.Remove(path) })
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := DeleteNetns(name); err != nil {
		t.Fatalf("DeleteNetns of an unmounted namespace file: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is still there (%v)", path, err)
	}
	if err := DeleteNetns(name); err != nil {
		t.Fatalf("DeleteNetns of a namespace that is gone: %v", err)
	}
}
