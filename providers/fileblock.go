package providers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// MaxNodeFiles bounds the bytes of one node's file blocks together
// (contents and sources), what labform reads and copies at each start.
const MaxNodeFiles = 64 << 20

// FileBlock is the repeatable file block of a node (vm, container): a
// file the plan tracks and labform puts in the node. Its attributes:
//
//	path      the file's absolute path in the node (required)
//	content   the file's text, or
//	source    a file or directory of the lab (relative to the lab
//	          directory) copied there; a directory's files keep their
//	          paths below path
//	mode      octal permissions as a string, "0644" by default
//	owner     "user:group" (names resolved in the node) or "uid:gid"
//	on_change a command run in the node to apply a change in place
//
// A change of a file restarts the node; with on_change, a provider that
// can reach the node rewrites the file and runs the command instead.
func FileBlock() *NestedBlock {
	return &NestedBlock{Nesting: NestingList, Cost: Restart, Block: &Block{Attributes: map[string]*Attribute{
		"path":      Required(cty.String, Restart, "the file's absolute path in the node"),
		"content":   Optional(cty.String, Restart, "the file's content; content or source"),
		"source":    Optional(cty.String, Restart, "a file or directory of the lab copied to path; content or source").Path(),
		"mode":      OptionalDefault(cty.StringVal("0644"), Restart, "octal permissions"),
		"owner":     Optional(cty.String, Restart, "user:group, names or numbers"),
		"on_change": Optional(cty.List(cty.String), InPlace, "a command run in the node to apply a change in place instead of a restart"),
	}}}
}

// NodeFile is one file to put in a node, from a file block: a block with
// a directory source gives one per file of the directory.
type NodeFile struct {
	Path    string // absolute, in the node
	Content []byte
	Mode    os.FileMode
	Owner   string
}

// ValidateFiles checks the file blocks of v (its attribute "file") beyond
// their types: absolute and distinct paths, content or source, an octal
// mode, an owner of the form user:group. onChange says whether the
// provider can run on_change; when it cannot, why not (noOnChange) is
// the diagnostic's detail.
func ValidateFiles(v cty.Value, noOnChange string) []*AttrError {
	fv := v.GetAttr("file")
	if fv.IsNull() || !fv.IsKnown() {
		return nil
	}
	var errs []*AttrError
	seen := map[string]bool{}
	for i, f := range fv.AsValueSlice() {
		at := func(name string) cty.Path { return cty.GetAttrPath("file").IndexInt(i).GetAttr(name) }
		fail := func(name, summary, detail string, args ...any) {
			errs = append(errs, &AttrError{Path: at(name), Summary: summary, Detail: fmt.Sprintf(detail, args...)})
		}
		if p := f.GetAttr("path"); p.IsKnown() && !p.IsNull() {
			s := p.AsString()
			switch {
			case !path.IsAbs(s):
				fail("path", "Invalid file path", "%q: a file's path in the node is absolute, such as /etc/frr/frr.conf.", s)
			case path.Clean(s) == "/":
				fail("path", "Invalid file path", "%q is the root directory, not a file.", s)
			case seen[path.Clean(s)]:
				fail("path", "Duplicate file path", "%q is the path of an earlier file block; each file block writes its own file.", s)
			}
			seen[path.Clean(s)] = true
		}
		c, src := f.GetAttr("content"), f.GetAttr("source")
		if c.IsKnown() && src.IsKnown() {
			switch {
			case c.IsNull() && src.IsNull():
				fail("path", "File without content", "A file block takes content (the text) or source (a file or directory of the lab); it has neither.")
			case !c.IsNull() && !src.IsNull():
				fail("source", "Both content and source", "A file block takes content or source, not both.")
			}
		}
		if m := f.GetAttr("mode"); m.IsKnown() && !m.IsNull() {
			if _, err := ParseMode(m.AsString()); err != nil {
				fail("mode", "Invalid file mode", "%s.", err)
			}
		}
		if o := f.GetAttr("owner"); o.IsKnown() && !o.IsNull() {
			if u, g, ok := strings.Cut(o.AsString(), ":"); !ok || u == "" || g == "" || strings.ContainsAny(g, ":") || strings.ContainsAny(o.AsString(), " \t\n/") {
				fail("owner", "Invalid file owner", "%q: user:group, as names (resolved in the node's /etc/passwd and /etc/group) or numbers, such as frr:frr or 100:101.", o.AsString())
			}
		}
		if oc := f.GetAttr("on_change"); oc.IsKnown() && !oc.IsNull() {
			switch {
			case noOnChange != "":
				fail("on_change", "on_change is not supported here", "%s", noOnChange)
			case oc.LengthInt() == 0:
				fail("on_change", "Empty on_change", "on_change is a command and its arguments, such as [\"vtysh\", \"-b\"]; leave it out to restart the node on a change.")
			}
		}
	}
	return errs
}

// ParseMode reads an octal permission string such as "0640".
func ParseMode(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 || s == "" {
		return 0, fmt.Errorf("%q: octal permissions from 0000 to 7777, such as \"0644\"", s)
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

// OctalMode writes a mode the way ParseMode reads it: "0640".
func OctalMode(m os.FileMode) string {
	n := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

// Files reads the file blocks of v into the files to put in the node, in
// the order of the blocks (a directory's files sorted by path). A source
// is read from the lab directory labDir now; together the files have at
// most MaxNodeFiles bytes.
func Files(v cty.Value, labDir string) ([]NodeFile, error) {
	list, ferr := listFiles(v, labDir)
	if ferr != nil {
		return nil, ferr.err
	}
	out := make([]NodeFile, 0, len(list))
	total := 0
	for _, e := range list {
		f := e.file
		if e.src != "" {
			// Read with the room left: a source that grew since it was
			// listed is still bounded.
			data, err := readLimited(e.src, MaxNodeFiles-total)
			if err != nil {
				return nil, fmt.Errorf("file[%d] %s: source: %w", e.block, f.Path, err)
			}
			f.Content = data
		}
		total += len(f.Content)
		out = append(out, f)
	}
	return out, nil
}

// CheckFiles checks, without reading them, the files v's file blocks put
// in the node: every source there and a regular file or a directory, no
// path written twice (a directory's file and another block) or inside
// another block's file, MaxNodeFiles bytes at most. The planner runs it
// at plan, so that these errors come with the block's line rather than
// at apply.
func CheckFiles(v cty.Value, labDir string) []*AttrError {
	if _, ferr := listFiles(v, labDir); ferr != nil {
		return []*AttrError{{Path: cty.GetAttrPath("file").IndexInt(ferr.block).GetAttr(ferr.attr), Summary: ferr.summary, Detail: ferr.err.Error() + "."}}
	}
	return nil
}

// fileEntry is one file to put in a node: its content, or the source
// file to read it from (src), and the block it comes from.
type fileEntry struct {
	file  NodeFile
	src   string
	block int
}

// fileError is a problem with block's attribute attr.
type fileError struct {
	block         int
	attr, summary string
	err           error
}

// listFiles lists the files of v's file blocks, sources stat'ed but not
// read, and checks their paths and total size.
func listFiles(v cty.Value, labDir string) ([]fileEntry, *fileError) {
	fv := v.GetAttr("file")
	if fv.IsNull() || !fv.IsKnown() {
		return nil, nil
	}
	var out []fileEntry
	var total int64
	// Where each path comes from: a directory's file that another block
	// writes too (or that is a directory of another's file) would be
	// written twice, the last one winning on one guest, the first on
	// another.
	from, dirs := map[string]int{}, map[string]int{}
	add := func(e fileEntry, size int64) *fileError {
		i, f := e.block, e.file
		fail := func(attr, summary, format string, args ...any) *fileError {
			return &fileError{block: i, attr: attr, summary: summary, err: fmt.Errorf(format, args...)}
		}
		if total += size; total > MaxNodeFiles {
			return fail("path", "Files too large", "file[%d] %s: the files come to more than %d MiB, the most labform puts in one node", i, f.Path, MaxNodeFiles>>20)
		}
		if j, ok := from[f.Path]; ok {
			return fail("path", "File written twice", "file[%d] and file[%d] both write %s; each file in the node comes from one block", j, i, f.Path)
		}
		if j, ok := dirs[f.Path]; ok {
			return fail("path", "File written twice", "file[%d] writes %s as a file, but file[%d] writes files inside it", i, f.Path, j)
		}
		for dir := path.Dir(f.Path); dir != "/"; dir = path.Dir(dir) {
			if j, ok := from[dir]; ok {
				return fail("path", "File written twice", "file[%d] writes %s, inside %s, which file[%d] writes as a file", i, f.Path, dir, j)
			}
			dirs[dir] = i
		}
		from[f.Path] = i
		out = append(out, e)
		return nil
	}
	for i, b := range fv.AsValueSlice() {
		dst := path.Clean(String(b, "path"))
		mode, err := ParseMode(String(b, "mode"))
		if err != nil {
			return nil, &fileError{i, "mode", "Invalid file mode", fmt.Errorf("file[%d] %s: mode %v", i, dst, err)}
		}
		owner := String(b, "owner")
		if c := b.GetAttr("content"); !c.IsNull() {
			if ferr := add(fileEntry{file: NodeFile{Path: dst, Content: []byte(c.AsString()), Mode: mode, Owner: owner}, block: i}, int64(len(c.AsString()))); ferr != nil {
				return nil, ferr
			}
			continue
		}
		src := String(b, "source")
		if !filepath.IsAbs(src) {
			src = filepath.Join(labDir, src)
		}
		srcErr := func(format string, args ...any) *fileError {
			return &fileError{i, "source", "Invalid file source", fmt.Errorf("file[%d] %s: source: "+format, append([]any{i, dst}, args...)...)}
		}
		fi, err := os.Stat(src)
		if err != nil {
			return nil, srcErr("%w", err)
		}
		if !fi.IsDir() {
			if !fi.Mode().IsRegular() {
				return nil, srcErr("%s is not a regular file or a directory", src)
			}
			if ferr := add(fileEntry{file: NodeFile{Path: dst, Mode: mode, Owner: owner}, src: src, block: i}, fi.Size()); ferr != nil {
				return nil, ferr
			}
			continue
		}
		type found struct {
			rel  string
			size int64
		}
		var files []found
		work := filepath.Join(labDir, ".labform")
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p == work {
				// labform's own directory (state, backups, the nodes'
				// config disks) is no file of the lab: source = "."
				// would put the state, secrets and all, in the node.
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				info, err := d.Info()
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(src, p)
				files = append(files, found{filepath.ToSlash(rel), info.Size()})
			}
			return nil
		})
		if err != nil {
			return nil, srcErr("%w", err)
		}
		sort.Slice(files, func(a, b int) bool { return files[a].rel < files[b].rel })
		for _, f := range files {
			e := fileEntry{file: NodeFile{Path: path.Join(dst, f.rel), Mode: mode, Owner: owner}, src: filepath.Join(src, f.rel), block: i}
			if ferr := add(e, f.size); ferr != nil {
				return nil, ferr
			}
		}
	}
	return out, nil
}

// readLimited reads a file of at most max bytes.
func readLimited(p string, max int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s: the files come to more than %d MiB, the most labform puts in one node", p, MaxNodeFiles>>20)
	}
	return b, nil
}

// FilesDigest is a SHA-256 of files (paths, modes, owners, contents): what
// tells that a source file of the lab changed since the files were put
// in the node.
func FilesDigest(files []NodeFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00", f.Path, OctalMode(f.Mode), f.Owner, len(f.Content))
		h.Write(f.Content)
	}
	return hex.EncodeToString(h.Sum(nil))
}
