package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container/image"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

// A container's root filesystem is either a directory of the lab's
// (rootfs) or an image from the store (image). An image-based container
// runs on an overlay: the unpacked image below, read-only and shared; its
// own upper and work directories in its bundle above. Its writes stay in
// the upper directory: a restart keeps them, a replacement or a destroy
// removes them with the bundle.

// validateRoot checks that exactly one of rootfs and image is given and
// that the image reference can be read.
func validateRoot(v cty.Value) []*providers.AttrError {
	rootfs, img := v.GetAttr("rootfs"), v.GetAttr("image")
	switch {
	case rootfs.IsNull() && img.IsNull():
		return []*providers.AttrError{{Path: cty.GetAttrPath("image"), Summary: "Missing root filesystem",
			Detail: "a container needs an image (image = \"frrouting/frr:v8.4.1\") or a root filesystem directory (rootfs = \"DIR\")."}}
	case !rootfs.IsNull() && !img.IsNull():
		return []*providers.AttrError{{Path: cty.GetAttrPath("image"), Summary: "Both image and rootfs",
			Detail: "a container runs from an image or from a rootfs directory, not both: remove one of them."}}
	}
	if img.IsKnown() && !img.IsNull() {
		if _, err := image.Parse(img.AsString(), ""); err != nil {
			return []*providers.AttrError{{Path: cty.GetAttrPath("image"), Summary: "Invalid image reference", Detail: err.Error()}}
		}
	}
	return nil
}

var _ providers.Resolver = (*Provider)(nil)

// Resolve turns a container's image reference into the digest it names
// now, which the plan shows and apply fetches. When the reference is
// unchanged but its tag now names another digest, the container is
// replaced: it would otherwise run an image the lab no longer names.
// Under -refresh=false the digest in state stands.
func (p *Provider) Resolve(ctx context.Context, req providers.ResolveRequest) (providers.ResolveResponse, error) {
	resp := providers.ResolveResponse{Resolved: map[string]cty.Value{}}
	if req.Type != "container" {
		return resp, nil
	}
	if f := req.Planned.GetAttr("file"); f.IsWhollyKnown() {
		if err := resolveFiles(req.Prior, req.Planned, req.Lab.Dir, &resp); err != nil {
			return resp, err
		}
	}
	img := req.Planned.GetAttr("image")
	if !img.IsKnown() {
		return resp, nil // another resource's value: resolved at apply
	}
	if img.IsNull() {
		resp.Resolved["image_digest"] = cty.NullVal(cty.String)
		return resp, nil
	}
	given := img.AsString()
	priorDigest := ""
	if !req.Prior.IsNull() && str(req.Prior, "image") == given {
		priorDigest = str(req.Prior, "image_digest")
	}
	if priorDigest != "" && !req.Refresh {
		resp.Resolved["image_digest"] = cty.StringVal(priorDigest)
		return resp, nil
	}
	ref, err := image.Parse(given, req.Lab.Dir)
	if err != nil {
		return resp, &providers.AttrError{Path: cty.GetAttrPath("image"), Summary: "Invalid image reference", Detail: err.Error()}
	}
	// Containers on one image resolve it at once: one request.
	d, err, _ := p.resolving.Do(string(ref.Transport)+":"+ref.Name+":"+ref.Tag, func() (interface{}, error) { return image.Resolve(ctx, ref) })
	digest, _ := d.(string)
	if err != nil {
		return resp, &providers.AttrError{Path: cty.GetAttrPath("image"), Summary: "Cannot resolve the image",
			Detail: fmt.Sprintf("image %s: %v", given, err)}
	}
	resp.Resolved["image_digest"] = cty.StringVal(digest)
	if priorDigest != "" && priorDigest != digest {
		resp.Cost, resp.Path = providers.Replace, cty.GetAttrPath("image_digest")
		resp.Reason = fmt.Sprintf("the image %s now names %s; the container runs %s", given, digest, priorDigest)
	}
	return resp, nil
}

// rootDirs are the directories of a container's overlay, in its bundle.
func (p *Provider) rootDirs(n names) (lowerFile, upper, work, merged string) {
	b := p.bundle(n)
	return filepath.Join(b, "lower"), filepath.Join(b, "upper"), filepath.Join(b, "work"), filepath.Join(b, "rootfs")
}

// prepareRoot makes the container's root filesystem ready and points the
// spec at it. For an image it fetches the image into the store when
// missing, mounts the overlay and returns the image's configuration; a
// rootfs directory is used as it is (nil, nil).
func (p *Provider) prepareRoot(ctx context.Context, n names, v cty.Value, spec *specs.Spec) (*v1.ConfigFile, string, error) {
	if v.GetAttr("image").IsNull() {
		if len(list(v, "file")) == 0 {
			return nil, "", nil
		}
		// Files go into an upper layer, never into the lab's rootfs.
		if err := p.mountRoot(n, spec.Root.Path); err != nil {
			return nil, "", err
		}
		_, _, _, merged := p.rootDirs(n)
		spec.Root.Path = merged
		return nil, "", nil
	}
	given := str(v, "image")
	ref, err := image.Parse(given, p.lab.Dir)
	if err != nil {
		return nil, "", err
	}
	digest := ""
	if d := v.GetAttr("image_digest"); d.IsKnown() && !d.IsNull() {
		digest = d.AsString()
	} else if digest, err = image.Resolve(ctx, ref); err != nil {
		return nil, "", fmt.Errorf("image %s: %w", given, err)
	}
	u, err := p.store.Ensure(ctx, ref, digest, nil)
	if err != nil {
		return nil, "", err
	}
	if err := p.mountRoot(n, u.Rootfs); err != nil {
		return nil, "", err
	}
	_, _, _, merged := p.rootDirs(n)
	spec.Root.Path = merged
	return &u.Config, digest, nil
}

// finishSpec completes a spec built from the container's value with what
// its root gives: the image's root and configuration. It returns v with
// the image's digest, for the state.
func (p *Provider) finishSpec(ctx context.Context, n names, v cty.Value, spec *specs.Spec) (cty.Value, error) {
	cfg, digest, err := p.prepareRoot(ctx, n, v, spec)
	if err != nil {
		return v, err
	}
	if err := applyImageConfig(v, spec, cfg); err != nil {
		return v, err
	}
	m := v.AsValueMap()
	if digest != "" {
		m["image_digest"] = cty.StringVal(digest)
	}
	if fd := v.GetAttr("files_digest"); !fd.IsKnown() {
		blocks, err := filesOf(v, p.lab.Dir)
		if err != nil {
			return v, err
		}
		m["files_digest"] = filesDigest(blocks)
	}
	return cty.ObjectVal(m), nil
}

// mountRoot mounts the overlay of lower (read-only) and the container's
// upper directory on its bundle's rootfs, unless it is mounted already
// (a restart; a host reboot unmounts it).
func (p *Provider) mountRoot(n names, lower string) error {
	lowerFile, upper, work, merged := p.rootDirs(n)
	if err := providers.PrivateDir(p.lab.WorkDir); err != nil {
		return err
	}
	if err := providers.PrivateDir(p.bundle(n)); err != nil {
		return err
	}
	if isOverlay(merged) {
		return nil
	}
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The root directory the container sees is the upper one: give it the
	// image's owner and mode.
	if st, err := os.Stat(lower); err == nil {
		os.Chmod(upper, st.Mode().Perm())
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			os.Chown(upper, int(sys.Uid), int(sys.Gid))
		}
	} else {
		return fmt.Errorf("the container's lower directory %s: %w", lower, err)
	}
	if err := os.WriteFile(lowerFile, []byte(lower), 0o600); err != nil {
		return err
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount -t overlay -o %s overlay %s: %w", opts, merged, err)
	}
	return nil
}

// remountRoot mounts the overlay again if the container has one and it is
// not mounted (the host rebooted since): before a restart.
func (p *Provider) remountRoot(n names) error {
	lowerFile, _, _, _ := p.rootDirs(n)
	b, err := os.ReadFile(lowerFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return p.mountRoot(n, string(b))
}

// unmountRoot detaches the container's overlay, if mounted: before its
// bundle is removed.
func (p *Provider) unmountRoot(n names) error {
	_, _, _, merged := p.rootDirs(n)
	if !isOverlay(merged) {
		return nil
	}
	if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("umount %s: %w", merged, err)
	}
	return nil
}

func isOverlay(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.OVERLAYFS_SUPER_MAGIC
}

// applyImageConfig takes from the image's configuration what docker takes:
// Entrypoint and Cmd when command is unset, Env beneath the lab's env,
// WorkingDir when cwd is left at "/", User when there is no user block.
func applyImageConfig(v cty.Value, spec *specs.Spec, cfg *v1.ConfigFile) error {
	if cfg == nil {
		return nil
	}
	c := cfg.Config
	if v.GetAttr("command").IsNull() {
		args := append(append([]string(nil), c.Entrypoint...), c.Cmd...)
		if len(args) == 0 {
			return fmt.Errorf("the image %s has neither Entrypoint nor Cmd: set command", str(v, "image"))
		}
		spec.Process.Args = args
	}
	lab := strMap(v, "env")
	env := []string{}
	seen := map[string]bool{}
	for _, e := range c.Env {
		k, _, _ := strings.Cut(e, "=")
		if _, over := lab[k]; over || seen[k] {
			continue
		}
		seen[k] = true
		env = append(env, e)
	}
	if !seen["PATH"] {
		if _, ok := lab["PATH"]; !ok {
			env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(lab)) {
		env = append(env, k+"="+lab[k])
	}
	spec.Process.Env = env
	if str(v, "cwd") == "/" && c.WorkingDir != "" {
		if !filepath.IsAbs(c.WorkingDir) {
			return fmt.Errorf("the image %s has WorkingDir %q, not an absolute path (runc refuses it, as docker does): set cwd", str(v, "image"), c.WorkingDir)
		}
		spec.Process.Cwd = c.WorkingDir
	}
	if v.GetAttr("user").IsNull() && c.User != "" {
		uid, gid, err := lookupOwner(spec.Root.Path, c.User, true)
		if err != nil {
			return fmt.Errorf("the image's User %q: %w (add a user block with uid and gid to run the command as another user)", c.User, err)
		}
		spec.Process.User = specs.User{UID: uid, GID: gid}
	}
	return nil
}

// lookupOwner resolves "user", "user:group", "uid" or "uid:gid" in the
// root filesystem's /etc/passwd and /etc/group. Without a group, the
// user's primary group is taken when userOnly allows it.
func lookupOwner(root, spec string, userOnly bool) (uid, gid uint32, err error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	if !hasGroup && !userOnly {
		return 0, 0, fmt.Errorf("%q: an owner is \"user:group\" or \"uid:gid\"", spec)
	}
	primary := uint32(0)
	if n, err := strconv.ParseUint(u, 10, 32); err == nil {
		uid = uint32(n)
		if e, ok := findEntry(root, "etc/passwd", func(f []string) bool { return len(f) > 3 && f[2] == u }); ok {
			p, _ := strconv.ParseUint(e[3], 10, 32)
			primary = uint32(p)
		}
	} else {
		e, ok := findEntry(root, "etc/passwd", func(f []string) bool { return len(f) > 3 && f[0] == u })
		if !ok {
			return 0, 0, fmt.Errorf("no user %q in the container's /etc/passwd", u)
		}
		n, _ := strconv.ParseUint(e[2], 10, 32)
		p, _ := strconv.ParseUint(e[3], 10, 32)
		uid, primary = uint32(n), uint32(p)
	}
	if !hasGroup {
		return uid, primary, nil
	}
	if n, err := strconv.ParseUint(g, 10, 32); err == nil {
		return uid, uint32(n), nil
	}
	e, ok := findEntry(root, "etc/group", func(f []string) bool { return len(f) > 2 && f[0] == g })
	if !ok {
		return 0, 0, fmt.Errorf("no group %q in the container's /etc/group", g)
	}
	n, _ := strconv.ParseUint(e[2], 10, 32)
	return uid, uint32(n), nil
}

// findEntry finds a line of root's /etc/passwd or /etc/group, the path
// resolved inside root: a symlink in the node never leads to the host's.
func findEntry(root, rel string, match func([]string) bool) ([]string, bool) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, rel, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: resolveInRoot})
	if err != nil {
		return nil, false
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if match(fields) {
			return fields, true
		}
	}
	return nil, false
}

// checkCommand says clearly when the root filesystem or the command is
// missing, before runc does so obscurely. It looks where the container
// will: a path under a bind mount's destination is looked up in the
// mount's source, anything else in the root (an image's overlay).
func checkCommand(spec *specs.Spec) error {
	rootfs, command := spec.Root.Path, spec.Process.Args[0]
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		return fmt.Errorf("the rootfs %s does not exist or is not a directory", rootfs)
	}
	where := rootfs
	if strings.HasSuffix(rootfs, "/rootfs") && isOverlay(rootfs) {
		where = "the image"
	}
	if strings.Contains(command, "/") {
		if _, err := os.Lstat(hostPath(spec, command)); err != nil {
			return fmt.Errorf("the command %s is not in %s nor in a bind mount", command, where)
		}
		return nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range spec.Process.Env {
		if strings.HasPrefix(e, "PATH=") {
			path = e[5:]
		}
	}
	for _, dir := range strings.Split(path, ":") {
		if _, err := os.Lstat(hostPath(spec, filepath.Join("/", dir, command))); err == nil {
			return nil
		}
	}
	return fmt.Errorf("the command %q is not in %s nor in a bind mount (searched PATH %s)", command, where, path)
}

// hostPath is where the host sees the container's path p: in the source
// of the bind mount with the longest destination holding p, else in the
// root filesystem.
func hostPath(spec *specs.Spec, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join("/", spec.Process.Cwd, p)
	}
	p = filepath.Clean(p)
	best, host := -1, filepath.Join(spec.Root.Path, p)
	for _, m := range spec.Mounts {
		if m.Type != "bind" && !containsStr(m.Options, "bind") && !containsStr(m.Options, "rbind") {
			continue
		}
		d := filepath.Clean(m.Destination)
		rel, err := filepath.Rel(d, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || len(d) <= best {
			continue
		}
		best, host = len(d), filepath.Join(m.Source, rel)
	}
	return host
}
