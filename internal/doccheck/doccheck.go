// Package doccheck checks the repository's Markdown documentation: that it
// speaks to users (no issue numbers, no files outside the repository) and
// that its relative links lead to files that exist.
package doccheck

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// Problem is one thing wrong in a document, at a line of it.
type Problem struct {
	File string // slash-separated, relative to the repository root
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Files lists the documents to check: README.md and every .md file under
// docs/, slash-separated and relative to root, sorted.
func Files(root string) ([]string, error) {
	files := []string{"README.md"}
	if _, err := os.Stat(filepath.Join(root, "README.md")); err != nil {
		return nil, err
	}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	sort.Strings(files[1:])
	return files, nil
}

// forbidden are the words a user document must not hold: references to the
// project's issue tracker and to files a clone of the repository lacks.
var forbidden = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`(?i)\bissues?\s*#?\d+`), "an issue number means nothing to a reader of the repository"},
	{regexp.MustCompile(`(?:^|[^\w&/#])(#\d+)\b`), "an issue reference (#N) means nothing to a reader of the repository"},
	{regexp.MustCompile(`DESIGN\.md`), "DESIGN.md is not in the repository"},
	{regexp.MustCompile(`\.\./shared|/work/shared`), "the shared folder is not in the repository"},
}

// Check checks one document, rel (slash-separated, relative to root),
// whose content is src. pending lists paths (relative to root) that links
// may name although they do not exist yet.
func Check(root, rel string, src []byte, pending map[string]bool) []Problem {
	var probs []Problem
	for i, line := range strings.Split(string(src), "\n") {
		for _, f := range forbidden {
			for _, m := range f.re.FindAllStringSubmatch(line, -1) {
				probs = append(probs, Problem{rel, i + 1, fmt.Sprintf("%q: %s", m[len(m)-1], f.why)})
			}
		}
	}
	doc := goldmark.New().Parser().Parse(text.NewReader(src))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest string
		switch l := n.(type) {
		case *ast.Link:
			dest = string(l.Destination)
		case *ast.Image:
			dest = string(l.Destination)
		default:
			return ast.WalkContinue, nil
		}
		if msg := checkLink(root, rel, dest, pending); msg != "" {
			probs = append(probs, Problem{rel, lineOf(n, src, dest), msg})
		}
		return ast.WalkContinue, nil
	})
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs
}

// checkLink says what is wrong with a link from document rel to dest, or
// "" when nothing is: links with a scheme (https:, mailto:) and links to
// an anchor of the same document are not checked.
func checkLink(root, rel, dest string, pending map[string]bool) string {
	u, err := url.Parse(dest)
	if err != nil {
		return fmt.Sprintf("link %q is not a valid URL: %v", dest, err)
	}
	if u.Scheme != "" || u.Host != "" || u.Path == "" {
		return ""
	}
	if strings.HasPrefix(u.Path, "/") {
		return fmt.Sprintf("link %q is an absolute path: link to files of the repository with a path relative to %s", dest, rel)
	}
	target := path.Clean(path.Join(path.Dir(rel), u.Path))
	if target == ".." || strings.HasPrefix(target, "../") {
		return fmt.Sprintf("link %q leads outside the repository", dest)
	}
	if pending[target] {
		return ""
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
		return fmt.Sprintf("link %q: %s does not exist in the repository", dest, target)
	}
	return ""
}

// lineOf finds the line of a link: goldmark keeps positions for blocks
// only, so it looks for the destination after the start of the link's
// block.
func lineOf(n ast.Node, src []byte, dest string) int {
	start := 0
	for b := n; b != nil; b = b.Parent() {
		if b.Type() == ast.TypeBlock && b.Lines().Len() > 0 {
			start = b.Lines().At(0).Start
			break
		}
	}
	if i := bytes.Index(src[start:], []byte(dest)); i >= 0 {
		start += i
	}
	return bytes.Count(src[:start], []byte("\n")) + 1
}
