package config

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parallelParseMin is the smallest file parsed in pieces: below it, the
// goroutines cost more than they save.
const parallelParseMin = 128 << 10

// pieceSize is about how many bytes each piece of a large file has: small
// enough that a piece fastParse declines (a comment, an interpolation)
// sends little text to HCL's slower parser, and that the cores share the
// work evenly; large enough that a piece's own cost is nothing.
const pieceSize = 16 << 10

// shared holds the files ReadBackend parsed, for Load to take: the CLI
// reads the backend block before it loads the lab, and a large file then
// parsed twice.
var shared struct {
	sync.Mutex
	files map[string]sharedFile
}

type sharedFile struct {
	src   []byte
	file  *hcl.File
	diags hcl.Diagnostics
}

// parseShared parses a lab file as ReadBackend always has (HCL's parser,
// no checks first), through parseHCL when the file passes checkSource,
// and keeps the result for Load.
func parseShared(p *hclparse.Parser, src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	_, cuts, d := checkSource(filename, src, 0)
	if d != nil {
		return p.ParseHCL(src, filename)
	}
	f, diags := parseHCL(p, src, filename, cuts)
	shared.Lock()
	defer shared.Unlock()
	if shared.files == nil {
		shared.files = map[string]sharedFile{}
	}
	shared.files[filename] = sharedFile{src: src, file: f, diags: diags}
	return f, diags
}

// takeShared returns what parseShared made of the file, if it was this
// source, and forgets it.
func takeShared(filename string, src []byte) (*hcl.File, hcl.Diagnostics, bool) {
	shared.Lock()
	defer shared.Unlock()
	sf, ok := shared.files[filename]
	if !ok {
		return nil, nil, false
	}
	delete(shared.files, filename)
	if !bytes.Equal(sf.src, src) {
		return nil, nil, false
	}
	return sf.file, sf.diags, true
}

// parseHCL parses a lab file on every core: the file is cut at lines that
// start outside any block, bracket, string or heredoc (cuts, from
// checkDepth), the pieces are parsed at once, each at its own position in
// the file so that every range is the file's, and their blocks joined in
// order. Each piece goes through fastParse, or through HCL's parser when
// fastParse declines it. The result is the file HCL would make of it. A
// piece with an error, or with an attribute at the top level, sends the
// whole file through HCL's own parser instead, so that diagnostics are
// exactly HCL's.
func parseHCL(p *hclparse.Parser, src []byte, filename string, cuts []hcl.Pos) (*hcl.File, hcl.Diagnostics) {
	workers := runtime.GOMAXPROCS(0)
	if existing := p.Files()[filename]; existing != nil {
		return existing, nil // as HCL's parser does for a file it has seen
	}
	if f, diags, ok := takeShared(filename, src); ok {
		p.AddFile(filename, f)
		return f, diags
	}
	if len(src) < parallelParseMin || len(cuts) == 0 {
		return p.ParseHCL(src, filename)
	}
	starts := []hcl.Pos{{Line: 1, Column: 1, Byte: 0}}
	for _, c := range cuts {
		if c.Byte-starts[len(starts)-1].Byte >= pieceSize {
			starts = append(starts, c)
		}
	}
	if len(starts) < 2 {
		return p.ParseHCL(src, filename)
	}
	bodies := make([]*hclsyntax.Body, len(starts))
	diags := make([]hcl.Diagnostics, len(starts))
	var first *hcl.File // the first piece's file, whose navigation the whole file's becomes
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(starts) {
					return
				}
				start := starts[i]
				end := len(src)
				if i+1 < len(starts) {
					end = starts[i+1].Byte
				}
				if b, ok := fastParse(src, filename, start.Byte, end, start); ok {
					bodies[i] = b
					if i == 0 {
						first, _ = hclsyntax.ParseConfig(nil, filename, start)
					}
					continue
				}
				f, d := hclsyntax.ParseConfig(src[start.Byte:end], filename, start)
				diags[i] = d
				if f != nil {
					bodies[i], _ = f.Body.(*hclsyntax.Body)
				}
				if i == 0 {
					first = f
				}
			}
		}()
	}
	wg.Wait()
	for i, b := range bodies {
		if diags[i].HasErrors() || b == nil || len(b.Attributes) > 0 {
			return p.ParseHCL(src, filename)
		}
	}
	// The first piece's body becomes the file's: its navigation (which
	// names the block around a diagnostic) then sees every block.
	body := first.Body.(*hclsyntax.Body)
	*body = *bodies[0]
	var all hcl.Diagnostics
	all = append(all, diags[0]...)
	for i := 1; i < len(bodies); i++ {
		b := bodies[i]
		body.Blocks = append(body.Blocks, b.Blocks...)
		body.SrcRange.End = b.SrcRange.End
		body.EndRange = b.EndRange
		all = append(all, diags[i]...)
	}
	first.Bytes = src
	p.AddFile(filename, first)
	return first, all
}
