package container

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

// File blocks put files into a container before it starts: into its
// overlay's upper layer, never into the image, a rootfs directory or a
// bind-mounted host directory. A changed file restarts the container, or,
// with on_change, is rewritten in place and on_change runs in the
// container (runc exec): same process, same pid.

// fileBlock is one file block.
type fileBlock struct {
	Path     string
	Content  string
	Source   string // absolute, on the host
	Mode     os.FileMode
	Owner    string
	OnChange []string
}

func fileBlockAttrs() map[string]*providers.Attribute {
	IP, str := providers.InPlace, cty.String
	return map[string]*providers.Attribute{
		"path":      providers.Required(str, IP, "the absolute path in the node"),
		"content":   providers.Optional(str, IP, "the file's content (or source)"),
		"source":    providers.Optional(str, IP, "a file or directory of the lab's to copy (or content)").Path(),
		"mode":      providers.OptionalDefault(cty.StringVal("0644"), IP, "the file's mode, octal"),
		"owner":     providers.Optional(str, IP, "user:group, names from the node's /etc/passwd and /etc/group, or uid:gid"),
		"on_change": providers.Optional(cty.List(str), IP, "a command run in the node when the file changes, instead of a restart"),
	}
}

// validateFiles checks the file blocks: absolute paths, one each, content
// or source, an octal mode, an owner of the form user:group.
func validateFiles(v cty.Value) []*providers.AttrError {
	var errs []*providers.AttrError
	seen := map[string]bool{}
	for i, f := range list(v, "file") {
		at := cty.GetAttrPath("file").Index(cty.NumberIntVal(int64(i)))
		if p := f.GetAttr("path"); p.IsKnown() && !p.IsNull() {
			path := p.AsString()
			if !filepath.IsAbs(path) || filepath.Clean(path) == "/" {
				errs = append(errs, &providers.AttrError{Path: at.GetAttr("path"), Summary: "Invalid file path", Detail: fmt.Sprintf("%q: a file's path is absolute, in the node, e.g. /etc/frr/frr.conf.", path)})
			} else if m := underMount(v, path); m != "" {
				errs = append(errs, &providers.AttrError{Path: at.GetAttr("path"), Summary: "File under a mount",
					Detail: fmt.Sprintf("%s is under the mount at %s, which would hide it: labform writes files into the node's own layer, never into a mounted directory.", path, m)})
			} else if seen[filepath.Clean(path)] {
				errs = append(errs, &providers.AttrError{Path: at.GetAttr("path"), Summary: "Duplicate file", Detail: fmt.Sprintf("%s is given by two file blocks.", path)})
			}
			seen[filepath.Clean(path)] = true
		}
		content, source := f.GetAttr("content"), f.GetAttr("source")
		if content.IsKnown() && source.IsKnown() && content.IsNull() == source.IsNull() {
			errs = append(errs, &providers.AttrError{Path: at, Summary: "Invalid file block", Detail: "a file block has either content or source, not both nor neither."})
		}
		if m := f.GetAttr("mode"); m.IsKnown() && !m.IsNull() {
			if _, err := parseMode(m.AsString()); err != nil {
				errs = append(errs, &providers.AttrError{Path: at.GetAttr("mode"), Summary: "Invalid file mode", Detail: err.Error()})
			}
		}
		if o := f.GetAttr("owner"); o.IsKnown() && !o.IsNull() {
			u, g, ok := strings.Cut(o.AsString(), ":")
			if !ok || u == "" || g == "" {
				errs = append(errs, &providers.AttrError{Path: at.GetAttr("owner"), Summary: "Invalid file owner", Detail: fmt.Sprintf("%q: an owner is \"user:group\" (names in the node) or \"uid:gid\".", o.AsString())})
			}
		}
		if oc := f.GetAttr("on_change"); oc.IsKnown() && !oc.IsNull() && oc.LengthInt() == 0 {
			errs = append(errs, &providers.AttrError{Path: at.GetAttr("on_change"), Summary: "Empty on_change", Detail: "on_change is a command: its argv, e.g. [\"vtysh\", \"-b\"]. Leave it out to restart the node instead."})
		}
	}
	return errs
}

func parseMode(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("%q is not a file mode: write it in octal, e.g. \"0644\"", s)
	}
	m := os.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m, nil
}

func filesOf(v cty.Value, labDir string) []fileBlock {
	var out []fileBlock
	for _, f := range list(v, "file") {
		fb := fileBlock{Path: filepath.Clean(str(f, "path")), Content: str(f, "content"), Owner: str(f, "owner"), OnChange: strList(f, "on_change")}
		if s := str(f, "source"); s != "" {
			if !filepath.IsAbs(s) {
				s = filepath.Join(labDir, s)
			}
			fb.Source = s
		}
		fb.Mode, _ = parseMode(str(f, "mode"))
		out = append(out, fb)
	}
	return out
}

// digest is the sha256 of what the file block puts in the node: its
// content, or its source's (a directory's names, modes and contents).
func (f fileBlock) digest() (string, error) {
	h := sha256.New()
	if f.Source == "" {
		io.WriteString(h, f.Content)
		return fmt.Sprintf("sha256:%x", h.Sum(nil)), nil
	}
	err := filepath.WalkDir(f.Source, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.Source, p)
		fmt.Fprintf(h, "%s\x00%o\x00", rel, info.Mode())
		switch {
		case info.Mode().IsRegular():
			r, err := os.Open(p)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(h, r)
			return err
		case info.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			io.WriteString(h, l)
			return err
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("the file %s's source: %w", f.Path, err)
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil)), nil
}

// filesDigest is the files_digest value: each file block's path to the
// digest of what it puts there; null without file blocks.
func filesDigest(files []fileBlock) (cty.Value, []*providers.AttrError) {
	if len(files) == 0 {
		return cty.NullVal(cty.Map(cty.String)), nil
	}
	m := map[string]cty.Value{}
	var errs []*providers.AttrError
	for i, f := range files {
		d, err := f.digest()
		if err != nil {
			errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("file").Index(cty.NumberIntVal(int64(i))).GetAttr("source"),
				Summary: "Cannot read the file's source", Detail: err.Error()})
			continue
		}
		m[f.Path] = cty.StringVal(d)
	}
	return cty.MapVal(m), errs
}

// fileChanges compares the files of two values: those written anew (new,
// or changed in content, mode or owner) and the paths no longer given.
func fileChanges(before, after cty.Value, labDir string) (changed []fileBlock, removed []string) {
	old := map[string]fileBlock{}
	for _, f := range filesOf(before, labDir) {
		old[f.Path] = f
	}
	bd, ad := strMap(before, "files_digest"), strMap(after, "files_digest")
	for _, f := range filesOf(after, labDir) {
		o, ok := old[f.Path]
		delete(old, f.Path)
		if !ok || bd[f.Path] != ad[f.Path] || o.Mode != f.Mode || o.Owner != f.Owner || o.Source != f.Source {
			changed = append(changed, f)
		}
	}
	for p := range old {
		removed = append(removed, p)
	}
	sort.Strings(removed)
	return changed, removed
}

// resolveFiles is the file part of Resolve: the digests of what the
// files hold now, and what their change costs.
func resolveFiles(prior, planned cty.Value, labDir string, resp *providers.ResolveResponse) error {
	files := filesOf(planned, labDir)
	fd, errs := filesDigest(files)
	if len(errs) > 0 {
		return errs[0]
	}
	resp.Resolved["files_digest"] = fd
	if prior.IsNull() {
		return nil
	}
	if planned.GetAttr("image").IsNull() && (len(list(prior, "file")) == 0) != (len(files) == 0) {
		resp.Cost, resp.Path = providers.Replace, cty.GetAttrPath("file")
		resp.Reason = "a rootfs container runs on an overlay of its rootfs once it has file blocks: the first file block added or the last removed replaces it"
		return nil
	}
	m := planned.AsValueMap()
	m["files_digest"] = fd
	changed, removed := fileChanges(prior, cty.ObjectVal(m), labDir)
	var restart, inPlace []string
	for _, f := range changed {
		if len(f.OnChange) > 0 {
			inPlace = append(inPlace, f.Path)
		} else {
			restart = append(restart, f.Path)
		}
	}
	restart = append(restart, removed...)
	switch {
	case len(restart) > 0:
		resp.Cost, resp.Path = providers.Restart, cty.GetAttrPath("files_digest")
		resp.Reason = fmt.Sprintf("%s %s changed or went, with no on_change", plural(len(restart), "file", "files"), strings.Join(restart, ", "))
	case len(inPlace) > 0:
		resp.Cost, resp.Path = providers.InPlace, cty.GetAttrPath("files_digest")
		resp.Reason = fmt.Sprintf("%s %s changed: rewritten, and on_change run in the node", plural(len(inPlace), "file", "files"), strings.Join(inPlace, ", "))
	}
	return nil
}

// writeFiles writes file blocks into the container's root (its overlay,
// mounted on the host), resolving every path inside that root: a symlink
// in the node never leads out of it. Parent directories are made as
// needed. Each file is written beside its place and renamed over it.
func writeFiles(root string, files []fileBlock) error {
	if len(files) == 0 {
		return nil
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the container's root %s: %w", root, err)
	}
	defer unix.Close(rootFd)
	for _, f := range files {
		if err := writeFile(root, rootFd, f); err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
	}
	return nil
}

func writeFile(root string, rootFd int, f fileBlock) error {
	uid, gid := -1, -1
	if f.Owner != "" {
		u, g, err := lookupOwner(root, f.Owner, false)
		if err != nil {
			return fmt.Errorf("owner: %w", err)
		}
		uid, gid = int(u), int(g)
	}
	if f.Source == "" {
		return putFile(rootFd, f.Path, []byte(f.Content), f.Mode, uid, gid)
	}
	st, err := os.Stat(f.Source)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if !st.IsDir() {
		data, err := os.ReadFile(f.Source)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		return putFile(rootFd, f.Path, data, f.Mode, uid, gid)
	}
	// A directory: its files keep their own modes; owner applies to all.
	return filepath.WalkDir(f.Source, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.Source, p)
		dest := filepath.Join(f.Path, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			fd, err := mkdirAllIn(rootFd, dest, info.Mode().Perm())
			if err != nil {
				return err
			}
			if uid >= 0 {
				unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH)
			}
			unix.Close(fd)
			return nil
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return putFile(rootFd, dest, data, info.Mode().Perm(), uid, gid)
		}
		return nil // symlinks, devices: not copied
	})
}

var resolveInRoot = uint64(unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS)

// mkdirAllIn opens the directory path inside the root, making what is
// missing, and returns its descriptor.
func mkdirAllIn(rootFd int, path string, mode os.FileMode) (int, error) {
	fd, err := unix.Openat2(rootFd, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveInRoot})
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("opening %s in the node: %w", path, err)
	}
	parent, err := mkdirAllIn(rootFd, filepath.Dir(path), 0o755)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	if err := unix.Mkdirat(parent, filepath.Base(path), uint32(mode.Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("making %s in the node: %w", path, err)
	}
	return unix.Openat2(rootFd, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveInRoot})
}

// putFile writes data at path inside the root: to a temporary name in
// the same directory, then renamed over the path.
func putFile(rootFd int, path string, data []byte, mode os.FileMode, uid, gid int) error {
	dir, err := mkdirAllIn(rootFd, filepath.Dir(path), 0o755)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	// O_PATH descriptors cannot create: reopen the directory for that.
	dfd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	base := filepath.Base(path)
	tmp := fmt.Sprintf(".%s.labform-%d", base, os.Getpid())
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s in the node: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if err == nil && uid >= 0 {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Chmod(mode) // after chown, which clears setuid bits
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, base)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("writing %s in the node: %w", path, err)
	}
	return nil
}

// removeFromUpper deletes what file blocks no longer given had put in the
// container's upper directory (the overlay unmounted), so that what lies
// below shows again.
func removeFromUpper(upper string, paths []string) error {
	fd, err := unix.Open(upper, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, p := range paths {
		dir, err := unix.Openat2(fd, filepath.Dir(p), &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveInRoot})
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
		err = unix.Unlinkat(dir, filepath.Base(p), 0)
		if errors.Is(err, unix.EISDIR) {
			os.RemoveAll(filepath.Join(upper, p)) // a directory source; opened in root above
			err = nil
		}
		unix.Close(dir)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("removing %s: %w", p, err)
		}
	}
	return nil
}

// execOnChange runs a file's on_change command in the container with
// `runc exec`, its output on on_change.log in the bundle.
func (p *Provider) execOnChange(ctx context.Context, n names, f fileBlock) error {
	logPath := filepath.Join(p.bundle(n), "on_change.log")
	logf, err := providers.OpenPrivateLog(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append([]string{"--root", p.rt.root, "exec", n.id}, f.OnChange...)
	if _, err := labnet.Run(ctx, labnet.Tool{Name: p.rt.path, Args: args, Stdout: logf, Stderr: logf, Timeout: p.rt.timeout}); err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("file %s changed and its on_change %q failed in the container: %v; it said: %s", f.Path, strings.Join(f.OnChange, " "), err, tail(string(out), 10))
	}
	return nil
}

// updateFiles brings the container's files to after's: for a restart,
// the container is stopped, files no longer given are taken out of its
// upper directory and the others written (setState starts it again);
// in place, changed files are rewritten and their on_change run.
func (p *Provider) updateFiles(ctx context.Context, n names, req providers.ApplyRequest, after cty.Value, root string) error {
	changed, removed := fileChanges(req.Prior, after, p.lab.Dir)
	if len(changed)+len(removed) == 0 {
		return nil
	}
	st, err := p.rt.state(ctx, n.id)
	if err != nil {
		return err
	}
	running := st.Status == "running" || st.Status == "paused"
	restart := req.Cost == providers.Restart || len(removed) > 0
	for _, f := range changed {
		restart = restart || len(f.OnChange) == 0
	}
	if restart || !running {
		if running {
			if err := p.rt.stop(ctx, n.id, 10*time.Second); err != nil {
				return err
			}
		}
		if len(removed) > 0 {
			_, upper, _, _ := p.rootDirs(n)
			if err := p.unmountRoot(n); err != nil {
				return err
			}
			if err := removeFromUpper(upper, removed); err != nil {
				return err
			}
			if err := p.remountRoot(n); err != nil {
				return err
			}
		}
		return writeFiles(root, changed)
	}
	if err := writeFiles(root, changed); err != nil {
		return err
	}
	for _, f := range changed {
		if len(f.OnChange) > 0 {
			if err := p.execOnChange(ctx, n, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// underMount returns the destination of the container's mount that holds
// path, if any.
func underMount(v cty.Value, path string) string {
	dests := []string{"/proc", "/dev", "/sys"} // every container's
	for _, m := range list(v, "mount") {
		if d := m.GetAttr("destination"); d.IsKnown() && !d.IsNull() {
			dests = append(dests, d.AsString())
		}
	}
	for _, dest := range dests {
		dest = filepath.Clean(dest)
		if rel, err := filepath.Rel(dest, filepath.Clean(path)); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return dest
		}
	}
	return ""
}
