package providers

import (
	"os"
	"path/filepath"
)

// Files that labform writes may hold a lab's values, sensitive ones
// included (a container's env in its bundle, a VM's command line in its
// log): they are readable by their owner only, and so are the directories
// that hold them.
const (
	PrivateFileMode os.FileMode = 0o600
	PrivateDirMode  os.FileMode = 0o700
)

// PrivateDir creates dir (and its missing parents) with mode 0700, and
// tightens dir itself to 0700 when it already existed with a looser mode.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, PrivateDirMode); err != nil {
		return err
	}
	return os.Chmod(dir, PrivateDirMode)
}

// WritePrivateFile writes data to path with mode 0600, whatever mode an
// older file at path had: the data goes to a new 0600 file in the same
// directory first, which then replaces path, so no reader ever sees the
// data under a looser mode.
func WritePrivateFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(PrivateFileMode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// OpenPrivateLog opens path for appending, creating it with mode 0600 and
// tightening an existing file to 0600.
func OpenPrivateLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, PrivateFileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(PrivateFileMode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
