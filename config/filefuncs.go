package config

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// MaxFileReads bounds the bytes that the file functions of one lab read
// in all (each distinct file counted once, since what is read is kept for
// the other calls): a for_each over thousands of instances that reads one
// file reads it once, and a lab cannot make labform hold gigabytes.
const MaxFileReads = 64 << 20

// fileFuncs are the functions of a lab that read the host's files: file,
// filebase64, fileexists, fileset, filemd5, filesha256, templatefile,
// and the path functions abspath, basename, dirname and pathexpand.
// Relative paths are relative to the lab directory, the directory of its
// .lab.hcl files (path.module), whatever the working directory. A path
// outside the lab directory (after its links are resolved) is refused
// unless the lab sets allow_host_paths, as for the host paths of
// resources; a file larger than MaxFileSize is refused, like a lab file.
type fileFuncs struct {
	dir       string // the lab directory, absolute
	realDir   string // dir with its links resolved
	hostPaths bool   // allow_host_paths

	mu    sync.Mutex
	read  int64             // bytes read so far, for MaxFileReads
	cache map[string][]byte // resolved path -> content
}

func newFileFuncs(dir string, allowHostPaths bool) *fileFuncs {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return &fileFuncs{dir: abs, realDir: resolveExisting(abs), hostPaths: allowHostPaths, cache: map[string][]byte{}}
}

// functions returns base (the pure functions) plus the file functions.
func (ff *fileFuncs) functions(base map[string]function.Function) map[string]function.Function {
	fns := make(map[string]function.Function, len(base)+11)
	for k, v := range base {
		fns[k] = v
	}
	fns["file"] = ff.readFunc(func(path string, b []byte) (cty.Value, error) {
		if !utf8.Valid(b) {
			return cty.NilVal, fmt.Errorf("the contents of %s are not valid UTF-8; use filebase64 for binary files, or filemd5 and filesha256 for their hashes", path)
		}
		return cty.StringVal(string(b)), nil
	})
	fns["filebase64"] = ff.readFunc(func(_ string, b []byte) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString(b)), nil
	})
	fns["filemd5"] = ff.readFunc(func(_ string, b []byte) (cty.Value, error) {
		h := md5.Sum(b)
		return cty.StringVal(hex.EncodeToString(h[:])), nil
	})
	fns["filesha256"] = ff.readFunc(func(_ string, b []byte) (cty.Value, error) {
		h := sha256.Sum256(b)
		return cty.StringVal(hex.EncodeToString(h[:])), nil
	})
	fns["fileexists"] = ff.fileExists()
	fns["fileset"] = ff.fileSet()
	fns["abspath"] = ff.absPath()
	fns["basename"] = pathFunc(filepath.Base)
	fns["dirname"] = pathFunc(filepath.Dir)
	fns["pathexpand"] = function.New(&function.Spec{
		Description: "Replaces a leading ~ with the home directory of the user running labform.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p, err := expandHome(args[0].AsString())
			return cty.StringVal(p), err
		},
	})
	fns["templatefile"] = ff.templateFile(fns)
	return fns
}

func pathFunc(fn func(string) string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(fn(args[0].AsString())), nil
		},
	})
}

// expandHome replaces a leading ~ (alone or before a slash) with $HOME;
// ~user is not supported, as in Terraform.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand ~: %w", err)
	}
	return filepath.Join(home, p[1:]), nil
}

// resolve is p made absolute against the lab directory (after ~ is
// expanded), refused when it leads outside the lab directory without
// allow_host_paths.
func (ff *fileFuncs) resolve(p string) (string, error) {
	if p == "" {
		return "", errors.New("the path is empty")
	}
	p, err := expandHome(p)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(ff.dir, p)
	}
	p = filepath.Clean(p)
	if !ff.hostPaths {
		if real := resolveExisting(p); !within(ff.realDir, real) {
			leads := ""
			if real != p {
				leads = fmt.Sprintf(", which leads to %s,", real)
			}
			return "", fmt.Errorf("%s%s is outside the lab directory %s; a lab reads only files of its own directory unless it sets allow_host_paths = true in its lab block", p, leads, ff.realDir)
		}
	}
	return p, nil
}

// readFile reads a regular file of at most MaxFileSize bytes, once per
// lab, within MaxFileReads in all.
func (ff *fileFuncs) readFile(p string) ([]byte, error) {
	abs, err := ff.resolve(p)
	if err != nil {
		return nil, err
	}
	ff.mu.Lock()
	b, ok := ff.cache[abs]
	ff.mu.Unlock()
	if ok {
		return b, nil
	}
	// Stat first, and open without blocking: a FIFO must be an error,
	// not a validate that waits for a writer.
	if fi, err := os.Stat(abs); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", abs, fileKind(fi.Mode()))
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no file exists at %s; the file functions read files that are part of the lab, not files that resources create", abs)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", abs, fileKind(fi.Mode()))
	}
	b, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", abs, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s has more than %d bytes (%d MiB), the most a file function reads", abs, MaxFileSize, MaxFileSize>>20)
	}
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if _, ok := ff.cache[abs]; !ok {
		if ff.read+int64(len(b)) > MaxFileReads {
			return nil, fmt.Errorf("reading %s would take the files the lab's functions read past %d MiB in all, labform's limit", abs, MaxFileReads>>20)
		}
		ff.read += int64(len(b))
		ff.cache[abs] = b
	}
	return b, nil
}

// readFunc is a function of one path that reads the file and makes a
// value of its bytes.
func (ff *fileFuncs) readFunc(fn func(path string, b []byte) (cty.Value, error)) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			b, err := ff.readFile(p)
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, err)
			}
			return fn(p, b)
		},
	})
}

// fileExists is true for a regular file, false when nothing is there, and
// an error for a directory or a special file, as in Terraform.
func (ff *fileFuncs) fileExists() function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			abs, err := ff.resolve(args[0].AsString())
			if err != nil {
				return cty.UnknownVal(cty.Bool), function.NewArgError(0, err)
			}
			fi, err := os.Stat(abs)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return cty.False, nil
			case err != nil:
				return cty.UnknownVal(cty.Bool), function.NewArgErrorf(0, "cannot stat %s: %s", abs, err)
			case !fi.Mode().IsRegular():
				return cty.UnknownVal(cty.Bool), function.NewArgErrorf(0, "%s is %s, not a regular file", abs, fileKind(fi.Mode()))
			}
			return cty.True, nil
		},
	})
}

// fileSet is the set of regular files under path that match pattern
// (doublestar's globs: *, **, ?, [...], {a,b}), relative to path and with
// forward slashes.
func (ff *fileFuncs) fileSet() function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "pattern", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Set(cty.String)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			abs, err := ff.resolve(args[0].AsString())
			if err != nil {
				return cty.UnknownVal(cty.Set(cty.String)), function.NewArgError(0, err)
			}
			pattern := filepath.ToSlash(filepath.Clean(args[1].AsString()))
			if !doublestar.ValidatePattern(pattern) {
				return cty.UnknownVal(cty.Set(cty.String)), function.NewArgErrorf(1, "invalid pattern %q", pattern)
			}
			if strings.HasPrefix(pattern, "/") || pattern == ".." || strings.HasPrefix(pattern, "../") {
				return cty.UnknownVal(cty.Set(cty.String)), function.NewArgErrorf(1, "the pattern %q leads out of %s: fileset's pattern is relative to its path", pattern, abs)
			}
			if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
				return cty.SetValEmpty(cty.String), nil // as Terraform: no directory, no match
			}
			var matches []string
			work := filepath.Join(ff.dir, ".labform")
			err = doublestar.GlobWalk(os.DirFS(abs), pattern, func(p string, d fs.DirEntry) error {
				if within(work, filepath.Join(abs, p)) {
					// labform's state, backups and disks are no files of
					// the lab (and would change the set at every apply).
					return nil
				}
				fi, err := fs.Stat(os.DirFS(abs), p) // follows links, as os.Stat
				if err == nil && fi.Mode().IsRegular() {
					if !ff.hostPaths && !within(ff.realDir, resolveExisting(filepath.Join(abs, p))) {
						return nil // a link out of the lab: not one of its files
					}
					matches = append(matches, p)
				}
				if len(matches) > MaxInstances {
					return fmt.Errorf("more than %d files match", MaxInstances)
				}
				return nil
			}, doublestar.WithFailOnIOErrors())
			if err != nil {
				return cty.UnknownVal(cty.Set(cty.String)), fmt.Errorf("fileset(%q, %q): %w", abs, pattern, err)
			}
			if len(matches) == 0 {
				return cty.SetValEmpty(cty.String), nil
			}
			sort.Strings(matches)
			vals := make([]cty.Value, len(matches))
			for i, m := range matches {
				vals[i] = cty.StringVal(m)
			}
			return cty.SetVal(vals), nil
		},
	})
}

// absPath makes a path absolute against the lab directory (Terraform's
// is against the working directory; a lab's relative paths are all
// relative to its directory) and cleans it. It reads nothing, so it is
// not limited to the lab directory.
func (ff *fileFuncs) absPath() function.Function {
	return pathFunc(func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(ff.dir, p)
		}
		return filepath.ToSlash(filepath.Clean(p))
	})
}

// templateFile renders a file of the lab as an HCL template with the
// variables of vars, Terraform's templatefile: the template sees only
// those variables (each one it refers to must be given) and the lab's
// functions except templatefile itself, so a template cannot include
// itself. The template's source is checked like a lab file's (size,
// tokens, nesting) before HCL parses it.
func (ff *fileFuncs) templateFile(fns map[string]function.Function) function.Function {
	params := []function.Parameter{{Name: "path", Type: cty.String}, {Name: "vars", Type: cty.DynamicPseudoType}}
	return function.New(&function.Spec{
		Params: params,
		Type:   function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			src, err := ff.readFile(name)
			if err != nil {
				return cty.DynamicVal, function.NewArgError(0, err)
			}
			if d := checkTemplateSource(name, src); d != nil {
				return cty.DynamicVal, function.NewArgError(0, hcl.Diagnostics{d})
			}
			expr, diags := hclsyntax.ParseTemplate(src, name, hcl.InitialPos)
			if diags.HasErrors() {
				return cty.DynamicVal, function.NewArgError(0, diags)
			}
			vars := args[1]
			if ty := vars.Type(); !ty.IsMapType() && !ty.IsObjectType() {
				return cty.DynamicVal, function.NewArgErrorf(1, "invalid vars value: must be a map or an object, not %s", ty.FriendlyName())
			}
			if vars.IsNull() {
				return cty.DynamicVal, function.NewArgErrorf(1, "invalid vars value: must not be null")
			}
			ctx := &hcl.EvalContext{Variables: vars.AsValueMap(), Functions: map[string]function.Function{}}
			if ctx.Variables == nil {
				ctx.Variables = map[string]cty.Value{}
			}
			for n := range ctx.Variables {
				if !hclsyntax.ValidIdentifier(n) {
					return cty.DynamicVal, function.NewArgErrorf(1, "invalid template variable name %q: a letter, then letters, digits, underscores or dashes", n)
				}
			}
			for _, tr := range expr.Variables() {
				if _, ok := ctx.Variables[tr.RootName()]; !ok {
					r := tr.SourceRange()
					return cty.DynamicVal, function.NewArgErrorf(1, "vars map does not contain key %q, referenced at %s:%d:%d", tr.RootName(), r.Filename, r.Start.Line, r.Start.Column)
				}
			}
			for n, f := range fns {
				if n == "templatefile" {
					f = function.New(&function.Spec{
						Params: params,
						Type: func([]cty.Value) (cty.Type, error) {
							return cty.NilType, errors.New("cannot call templatefile from inside a template that templatefile renders")
						},
					})
				}
				ctx.Functions[n] = f
			}
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return cty.DynamicVal, diags
			}
			return v, nil
		},
	})
}
