package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/ctyobj"
	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// checkHostPaths refuses the paths (attributes marked HostPath: a
// container's rootfs and bind sources, a VM's disks, kernel, cdrom ...)
// that lead outside the lab directory, unless the lab block sets
// allow_host_paths = true. Relative paths are relative to the lab
// directory, as the providers take them; symbolic links are resolved, so
// a link inside the lab to /etc is outside. A lab thus cannot, by being
// applied, have a container write to the host's files or a VM boot from
// them without saying so.
func (d *Desired) checkHostPaths() hcl.Diagnostics {
	var diags hcl.Diagnostics
	if d.Lab.AllowHostPaths {
		return nil
	}
	// Each instance's paths on every core; one diagnostic per source
	// range and path, in order.
	found := make([][]hostPathFind, len(d.Order))
	par.For(len(d.Order), func(i int) {
		inst := d.Instances[d.Order[i]]
		found[i] = d.Lab.hostPathFinds(d.Order[i], inst.Resource, inst.Value)
	})
	reported := map[string]bool{}
	for _, finds := range found {
		for _, f := range finds {
			if !reported[f.key] {
				reported[f.key] = true
				diags = append(diags, f.diag)
			}
		}
	}
	return diags
}

// hostPathFind is a path outside the lab directory, with what tells it
// apart from the same mistake in another instance of the same block.
type hostPathFind struct {
	key  string
	diag *hcl.Diagnostic
}

// hostPathDiags checks one instance's value. reported, when not nil,
// keeps one diagnostic per source range and path for all the instances
// of a counted resource.
func (l *Lab) hostPathDiags(a addr.Instance, r *Resource, v cty.Value, reported map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, f := range l.hostPathFinds(a, r, v) {
		if reported != nil {
			if reported[f.key] {
				continue
			}
			reported[f.key] = true
		}
		diags = append(diags, f.diag)
	}
	return diags
}

// hostPathFinds is hostPathDiags without the reported set.
func (l *Lab) hostPathFinds(a addr.Instance, r *Resource, v cty.Value) []hostPathFind {
	l = l.Root() // paths are relative to the lab's directory, in modules too
	if l.AllowHostPaths {
		return nil
	}
	dir, err := filepath.Abs(l.Dir)
	if err != nil {
		dir = l.Dir
	}
	l.pathsOnce.Do(func() { l.labDirReal = resolveExisting(dir) })
	labDir := l.labDirReal
	var finds []hostPathFind
	walkHostPaths(&r.Schema.Block, v, nil, func(path cty.Path, p string) {
		var rp resolvedPath
		if x, ok := l.resolved.Load(p); ok {
			rp = x.(resolvedPath)
		} else {
			rp.abs = p
			if !filepath.IsAbs(p) {
				rp.abs = filepath.Join(dir, p)
			}
			rp.real = resolveExisting(rp.abs)
			rp.inside = within(labDir, rp.real)
			l.resolved.Store(p, rp)
		}
		if rp.inside {
			return
		}
		abs, real := rp.abs, rp.real
		rng := RangeOf(r, path)
		leads := ""
		if real != filepath.Clean(abs) {
			leads = fmt.Sprintf(", which leads to %s,", real)
		}
		finds = append(finds, hostPathFind{key: rng.String() + "\x00" + p, diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Path outside the lab directory",
			Detail: fmt.Sprintf("%s: %s = %q%s is outside the lab directory %s. A lab uses only files of its own directory unless it says otherwise: move the file under the lab directory, or set allow_host_paths = true in the lab block to use host paths.",
				a, pathString(path), p, leads, labDir),
			Subject: rng.Ptr()}})
	})
	return finds
}

// resolvedPath is a host path as written, resolved once for all the
// instances that name it: the absolute path, where its links lead, and
// whether that is inside the lab directory.
type resolvedPath struct {
	abs, real string
	inside    bool
}

// walkHostPaths calls fn with every known, non-empty host path of v.
func walkHostPaths(b *providers.Block, v cty.Value, path cty.Path, fn func(cty.Path, string)) {
	if v.IsNull() || !v.IsKnown() || !holdsHostPaths(b) {
		return
	}
	for name, a := range b.Attributes {
		if !a.HostPath {
			continue
		}
		av := ctyobj.Attr(v, name)
		if av.IsNull() || !av.IsKnown() || av.AsString() == "" {
			continue
		}
		fn(append(append(cty.Path{}, path...), cty.GetAttrStep{Name: name}), av.AsString())
	}
	for name, nb := range b.Blocks {
		bv := ctyobj.Attr(v, name)
		if bv.IsNull() || !bv.IsKnown() {
			continue
		}
		bp := append(append(cty.Path{}, path...), cty.GetAttrStep{Name: name})
		switch nb.Nesting {
		case providers.NestingSingle:
			walkHostPaths(nb.Block, bv, bp, fn)
		default:
			for it := bv.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				walkHostPaths(nb.Block, ev, append(append(cty.Path{}, bp...), cty.IndexStep{Key: k}), fn)
			}
		}
	}
}

// resolveExisting is the path with its symbolic links resolved, as far as
// it exists; the part that does not exist yet is appended as written
// (cleaned), so that "images/new.qcow2" stays inside and
// "link-to-etc/new" is seen to be in /etc.
func resolveExisting(p string) string {
	p = filepath.Clean(p)
	var rest []string
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...)
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, os.ErrPermission) && !errors.Is(err, syscall.ENOTDIR) {
			// A loop of links or the like: keep the path as written.
			return filepath.Join(append([]string{p}, rest...)...)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(append([]string{p}, rest...)...)
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}

// pathString writes a value path the way a lab writes it: mount[0].source.
func pathString(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			} else {
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			}
		}
	}
	return b.String()
}

// hostPathBlocks remembers, for each schema block, whether it or a block
// in it has a host path attribute: a large lab's links and firewall
// rules have none, and walking their values found nothing.
var hostPathBlocks sync.Map // *providers.Block -> bool

func holdsHostPaths(b *providers.Block) bool {
	if v, ok := hostPathBlocks.Load(b); ok {
		return v.(bool)
	}
	holds := false
	for _, a := range b.Attributes {
		holds = holds || a.HostPath
	}
	for _, nb := range b.Blocks {
		holds = holds || holdsHostPaths(nb.Block)
	}
	hostPathBlocks.Store(b, holds)
	return holds
}
