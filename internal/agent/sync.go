package agent

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The providers on a host read the lab's files (a container's rootfs, a
// file block's source, a VM's disk image) at the path they have on the
// operator's machine, as values name them. Before the first call of a run,
// labform sends the host what it lacks of the lab's directory, at that
// same path: LabFiles says which entries differ, and `labform agent sync`
// receives them as a tar stream in a session of its own. Entries the host
// has and the operator does not are left alone; so is everything when
// the host already sees the same files (a shared filesystem).

// FileEntry is one entry of the lab's directory as the operator has it.
type FileEntry struct {
	Path  string // relative to the lab's directory, slash-separated
	Mode  uint32 // fs.FileMode: type and permissions
	Size  int64
	Mtime int64  // nanoseconds since the epoch
	Link  string // a symbolic link's target
}

// LabFilesArgs asks which of the lab's entries the host lacks.
type LabFilesArgs struct {
	Dir   string // absolute
	Files []FileEntry
}

// LabFilesReply lists the entries to send.
type LabFilesReply struct{ Need []string }

// LabFiles compares the operator's entries with what the host has.
func (v *service) LabFiles(a LabFilesArgs, reply *LabFilesReply) error {
	if !filepath.IsAbs(a.Dir) {
		return fmt.Errorf("the lab directory %q is not absolute", a.Dir)
	}
	reply.Need = Need(a.Dir, a.Files)
	return nil
}

// Need lists the entries of files that dir lacks or has otherwise.
func Need(dir string, files []FileEntry) []string {
	var need []string
	for _, f := range files {
		if !sameEntry(filepath.Join(dir, filepath.FromSlash(f.Path)), f) {
			need = append(need, f.Path)
		}
	}
	return need
}

// sameEntry tells whether path is already what f describes: same type,
// permissions, and for a file size and modification time, for a link its
// target.
func sameEntry(path string, f FileEntry) bool {
	st, err := os.Lstat(path)
	if err != nil {
		return false
	}
	mode := fs.FileMode(f.Mode)
	if st.Mode().Type() != mode.Type() {
		return false
	}
	switch {
	case mode.IsDir():
		return st.Mode().Perm() == mode.Perm()
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		return err == nil && target == f.Link
	}
	return st.Size() == f.Size && st.ModTime().UnixNano() == f.Mtime && st.Mode().Perm() == mode.Perm()
}

// ReceiveLabFiles writes the entries of a tar stream under dir, creating
// what is missing, and returns how many it wrote. No entry may lead out
// of dir, or through a symbolic link the host has where the lab has a
// directory. A file is written beside its place and renamed over it, with
// the mode, owner and modification time the stream gives.
func ReceiveLabFiles(dir string, r io.Reader) (int, error) {
	if !filepath.IsAbs(dir) {
		return 0, fmt.Errorf("the lab directory %q is not absolute", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	tr := tar.NewReader(r)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		rel := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(rel) || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return n, fmt.Errorf("%s: leads out of the lab directory", h.Name)
		}
		path := filepath.Join(dir, rel)
		if err := realDirs(dir, filepath.Dir(rel)); err != nil {
			return n, err
		}
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if st, err := os.Lstat(path); err == nil && !st.IsDir() {
				if err := os.Remove(path); err != nil {
					return n, err
				}
			}
			if err := os.Mkdir(path, mode); err != nil && !errors.Is(err, fs.ErrExist) {
				return n, err
			}
			if err := os.Chmod(path, mode); err != nil {
				return n, err
			}
		case tar.TypeSymlink:
			if st, err := os.Lstat(path); err == nil {
				if st.IsDir() {
					return n, fmt.Errorf("%s: a directory on the host, a symbolic link in the lab", h.Name)
				}
				os.Remove(path)
			}
			if err := os.Symlink(h.Linkname, path); err != nil {
				return n, err
			}
		case tar.TypeReg:
			if st, err := os.Lstat(path); err == nil && st.IsDir() {
				return n, fmt.Errorf("%s: a directory on the host, a file in the lab", h.Name)
			}
			f, err := os.CreateTemp(filepath.Dir(path), ".labform-sync-*")
			if err != nil {
				return n, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Chmod(f.Name(), mode)
			}
			if err == nil {
				err = os.Chtimes(f.Name(), h.ModTime, h.ModTime)
			}
			if err == nil {
				err = os.Rename(f.Name(), path)
			}
			if err != nil {
				os.Remove(f.Name())
				return n, fmt.Errorf("%s: %w", h.Name, err)
			}
		default:
			continue // devices and fifos are never sent
		}
		os.Lchown(path, h.Uid, h.Gid) // as the operator has it, where the host knows the ids
		n++
	}
}

// realDirs checks that every component of rel under dir that exists is a
// directory, not a symbolic link out of it.
func realDirs(dir, rel string) error {
	if rel == "." {
		return nil
	}
	p := dir
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, c)
		st, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // made by the entries before it, or missing: Mkdir says
		}
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return fmt.Errorf("%s: not a directory on the host (a symbolic link?), where the lab has one", p)
		}
	}
	return nil
}
