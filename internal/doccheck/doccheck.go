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
	"unicode"

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
	// The patterns are written in pieces so that this file itself names
	// no document or path outside the repository.
	{regexp.MustCompile(`DESIGN` + `\.md`), "the design document beside the repository is not in it"},
	{regexp.MustCompile(`\.\.[/]shared|/work[/]shared`), "the shared folder is not in the repository"},
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
	doc := parse(src)
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
		if msg := checkLink(root, rel, dest, src, pending); msg != "" {
			probs = append(probs, Problem{rel, lineOf(n, src, dest), msg})
		}
		return ast.WalkContinue, nil
	})
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs
}

// checkLink says what is wrong with a link from document rel (whose
// content is src) to dest, or "" when nothing is. Links with a scheme
// (https:, mailto:) are not checked; an anchor (#part) is checked against
// the headings of the Markdown file it names.
func checkLink(root, rel, dest string, src []byte, pending map[string]bool) string {
	u, err := url.Parse(dest)
	if err != nil {
		return fmt.Sprintf("link %q is not a valid URL: %v", dest, err)
	}
	if u.Scheme != "" || u.Host != "" {
		return ""
	}
	if u.Path == "" {
		if u.Fragment != "" && !Anchors(src)[u.Fragment] {
			return fmt.Sprintf("link %q: %s has no heading with that anchor", dest, rel)
		}
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
	file := filepath.Join(root, filepath.FromSlash(target))
	if _, err := os.Stat(file); err != nil {
		return fmt.Sprintf("link %q: %s does not exist in the repository", dest, target)
	}
	if u.Fragment != "" && strings.HasSuffix(target, ".md") {
		other, err := os.ReadFile(file)
		if err != nil {
			return fmt.Sprintf("link %q: %v", dest, err)
		}
		if !Anchors(other)[u.Fragment] {
			return fmt.Sprintf("link %q: %s has no heading with that anchor", dest, target)
		}
	}
	return ""
}

func parse(src []byte) ast.Node { return goldmark.New().Parser().Parse(text.NewReader(src)) }

// Anchors gives the anchors GitHub makes of a Markdown document's
// headings: the heading's text in lower case, without punctuation, spaces
// made hyphens, and "-1", "-2"... after a repeated one.
func Anchors(src []byte) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	_ = ast.Walk(parse(src), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering || n.Kind() != ast.KindHeading {
			return ast.WalkContinue, nil
		}
		slug := slugify(plainText(n, src))
		if k := seen[slug]; k > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, k)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
		return ast.WalkSkipChildren, nil
	})
	return anchors
}

// plainText is the text of an inline tree, code spans and link texts
// included.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := c.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(src))
			if t.SoftLineBreak() || t.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(t.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

func slugify(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
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
