package labnet

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// PinNetns pins the network namespace at path (a process's
// /proc/PID/ns/net) under name, as `ip netns add` pins a new one: a bind
// mount on an empty file in Dir. An existing pin of that name is an error.
func PinNetns(name, path string) error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(Dir, name)
	f, err := os.OpenFile(dst, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("pinning the network namespace %s: %w", name, err)
	}
	f.Close()
	if err := unix.Mount(path, dst, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(dst)
		return fmt.Errorf("pinning %s as the network namespace %s: %w", path, name, err)
	}
	return nil
}
