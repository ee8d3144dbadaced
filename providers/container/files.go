package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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

// fileBlock is one file block, read: the files it puts in the node (a
// directory source gives one per file, see providers.Files) and the
// digest of them all (paths, modes, owner, contents).
type fileBlock struct {
	Path     string
	Owner    string
	OnChange []string
	Files    []providers.NodeFile
	Digest   string
}

// validateFiles checks the file blocks (providers.ValidateFiles: paths,
// content or source, mode, owner) and that none lies under a mount, which
// would hide it.
func validateFiles(v cty.Value) []*providers.AttrError {
	errs := providers.ValidateFiles(v, "")
	for i, f := range list(v, "file") {
		p := f.GetAttr("path")
		if !p.IsKnown() || p.IsNull() || !filepath.IsAbs(p.AsString()) {
			continue
		}
		if m := underMount(v, p.AsString()); m != "" {
			errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("file").IndexInt(i).GetAttr("path"), Summary: "File under a mount",
				Detail: fmt.Sprintf("%s is under the mount at %s, which would hide it: labform writes files into the node's own layer, never into a mounted directory.", p.AsString(), m)})
		}
	}
	return errs
}

// filesOf reads the container's file blocks, their sources from the lab
// directory now.
func filesOf(v cty.Value, labDir string) ([]fileBlock, error) {
	var out []fileBlock
	for i, b := range list(v, "file") {
		one := cty.ObjectVal(map[string]cty.Value{"file": cty.ListVal([]cty.Value{b})})
		files, err := providers.Files(one, labDir)
		if err != nil {
			return nil, &providers.AttrError{Path: cty.GetAttrPath("file").IndexInt(i), Summary: "Cannot read the file",
				Detail: strings.Replace(err.Error(), "file[0]", fmt.Sprintf("file[%d]", i), 1)}
		}
		out = append(out, fileBlock{Path: filepath.Clean(str(b, "path")), Owner: str(b, "owner"), OnChange: strList(b, "on_change"),
			Files: files, Digest: "sha256:" + providers.FilesDigest(files)})
	}
	return out, nil
}

// filesDigest is the files_digest value: each file block's path to the
// digest of what it puts there; null without file blocks.
func filesDigest(blocks []fileBlock) cty.Value {
	if len(blocks) == 0 {
		return cty.NullVal(cty.Map(cty.String))
	}
	m := map[string]cty.Value{}
	for _, b := range blocks {
		m[b.Path] = cty.StringVal(b.Digest)
	}
	return cty.MapVal(m)
}

// fileChanges compares the file blocks of two values by their digests:
// the blocks to write anew (new or changed) and the paths no longer given.
func fileChanges(before, after cty.Value, blocks []fileBlock) (changed []fileBlock, removed []string) {
	bd := strMap(before, "files_digest")
	now := map[string]bool{}
	for _, b := range blocks {
		now[b.Path] = true
		if d, ok := bd[b.Path]; !ok || d != b.Digest {
			changed = append(changed, b)
		}
	}
	for p := range bd {
		if !now[p] {
			removed = append(removed, p)
		}
	}
	sort.Strings(removed)
	return changed, removed
}

// resolveFiles is the file part of Resolve: the digests of what the
// files hold now, and what their change costs. The schema says a file's
// change restarts the node; when every changed file has on_change, the
// change is made in place instead, which the response says exactly.
func resolveFiles(prior, planned cty.Value, labDir string, resp *providers.ResolveResponse) error {
	blocks, err := filesOf(planned, labDir)
	if err != nil {
		return err
	}
	fd := filesDigest(blocks)
	resp.Resolved["files_digest"] = fd
	if prior.IsNull() {
		return nil
	}
	if planned.GetAttr("image").IsNull() && (len(list(prior, "file")) == 0) != (len(blocks) == 0) {
		resp.Cost, resp.Path = providers.Replace, cty.GetAttrPath("file")
		resp.Reason = "a rootfs container runs on an overlay of its rootfs once it has file blocks: the first file block added or the last removed replaces it"
		return nil
	}
	changed, removed := fileChanges(prior, planned, blocks)
	var restart, inPlace []string
	for _, f := range changed {
		if len(f.OnChange) > 0 {
			inPlace = append(inPlace, f.Path)
		} else {
			restart = append(restart, f.Path)
		}
	}
	restart = append(restart, removed...)
	resp.Path = cty.GetAttrPath("file")
	switch {
	case len(restart) > 0:
		resp.Cost = providers.Restart
		resp.Reason = fmt.Sprintf("%s %s changed or went, with no on_change", plural(len(restart), "file", "files"), strings.Join(restart, ", "))
	case len(inPlace) > 0:
		resp.Cost, resp.Exact = providers.InPlace, true
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
	for _, nf := range f.Files {
		if err := putFile(rootFd, nf.Path, nf.Content, nf.Mode, uid, gid); err != nil {
			return err
		}
	}
	return nil
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
	fd, err = unix.Openat2(rootFd, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveInRoot})
	if err != nil {
		what := ""
		if target, lerr := readlinkIn(rootFd, path); lerr == nil {
			what = fmt.Sprintf(": it is a symlink to %s, which the node lacks (labform makes directories, not a symlink's target): name the file by its real path, or make the target first", target)
		}
		return -1, fmt.Errorf("opening the directory %s in the node: %w%s", path, err, what)
	}
	return fd, nil
}

// readlinkIn reads the symlink at path inside the root (its parent
// resolved in the root).
func readlinkIn(rootFd int, path string) (string, error) {
	dir, err := unix.Openat2(rootFd, filepath.Dir(path), &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveInRoot})
	if err != nil {
		return "", err
	}
	defer unix.Close(dir)
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dir, filepath.Base(path), buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
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
		if errors.Is(err, unix.EISDIR) {
			return fmt.Errorf("writing %s in the node: it is a directory there: a file block's path names a file (to fill a directory, give source a directory of the lab's)", path)
		}
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
	g, err := p.newExecGuard(n)
	if err != nil {
		return err
	}
	defer g.done()
	rt := p.rtOf(n) // an imported container keeps its own runc root
	args := append(append(append([]string{"--root", rt.root, "exec"}, g.args()...), n.id), f.OnChange...)
	if _, err := labnet.Run(ctx, labnet.Tool{Name: rt.path, Args: args, Stdout: logf, Stderr: logf, Timeout: rt.timeout}); err != nil {
		var ce *labnet.CommandError
		if ctx.Err() != nil || (errors.As(err, &ce) && (ce.TimedOut > 0 || ce.Interrupted)) {
			// runc was killed: its command would run on in the node. One
			// that failed on its own keeps the daemons it started.
			p.killIn(n, g)
		}
		out, _ := os.ReadFile(logPath)
		hint := ""
		if errors.As(err, &ce) && ce.TimedOut > 0 {
			hint = fmt.Sprintf(" (the command and what it started were killed in the container; on_change must return within the provider's tool_timeout, %s: start long work in the background, or raise tool_timeout)", ce.TimedOut)
		}
		return fmt.Errorf("file %s changed and its on_change %q failed in the container: %v; it said: %s%s", f.Path, strings.Join(f.OnChange, " "), err, tail(string(out), 10), hint)
	}
	return nil
}

// updateFiles brings the container's files to after's: for a restart,
// the container is stopped, files no longer given are taken out of its
// upper directory and the others written (setState starts it again);
// in place, changed files are rewritten and their on_change run.
func (p *Provider) updateFiles(ctx context.Context, n names, req providers.ApplyRequest, after cty.Value, root string) error {
	blocks, err := filesOf(after, p.lab.Dir)
	if err != nil {
		return err
	}
	changed, removed := fileChanges(req.Prior, after, blocks)
	if len(changed)+len(removed) == 0 {
		return nil
	}
	rt := p.rtOf(n)
	st, err := rt.state(ctx, n.id)
	if err != nil {
		return err
	}
	running := st.runState().Live()
	restart := req.Cost == providers.Restart || len(removed) > 0
	for _, f := range changed {
		restart = restart || len(f.OnChange) == 0
	}
	if restart || !running {
		if running {
			if err := rt.stop(ctx, n.id, 10*time.Second); err != nil {
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
