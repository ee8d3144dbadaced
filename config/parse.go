package config

import (
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parallelParseMin is the smallest file parsed in pieces: below it, the
// goroutines cost more than they save.
const parallelParseMin = 128 << 10

// parseHCL parses a lab file on every core: the file is cut at lines that
// start outside any block, bracket, string or heredoc (cuts, from
// checkDepth), the pieces are parsed at once, each at its own position in
// the file so that every range is the file's, and their blocks joined in
// order. The result is the file HCL would make of it. A piece with an
// error, or with an attribute at the top level, sends the whole file
// through HCL's own parser instead, so that diagnostics are exactly HCL's.
func parseHCL(p *hclparse.Parser, src []byte, filename string, cuts []hcl.Pos) (*hcl.File, hcl.Diagnostics) {
	workers := runtime.GOMAXPROCS(0)
	if existing := p.Files()[filename]; existing != nil {
		return existing, nil // as HCL's parser does for a file it has seen
	}
	if len(src) < parallelParseMin || workers < 2 || len(cuts) == 0 {
		return p.ParseHCL(src, filename)
	}
	// Pieces of about equal size, a few per core so that an unlucky one
	// does not keep the others waiting.
	want := 4 * workers
	size := len(src) / want
	starts := []hcl.Pos{{Line: 1, Column: 1, Byte: 0}}
	for _, c := range cuts {
		if c.Byte-starts[len(starts)-1].Byte >= size {
			starts = append(starts, c)
		}
	}
	if len(starts) < 2 {
		return p.ParseHCL(src, filename)
	}
	files := make([]*hcl.File, len(starts))
	diags := make([]hcl.Diagnostics, len(starts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i, start := range starts {
		end := len(src)
		if i+1 < len(starts) {
			end = starts[i+1].Byte
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			files[i], diags[i] = hclsyntax.ParseConfig(src[start.Byte:end], filename, start)
		}()
	}
	wg.Wait()
	for i, f := range files {
		if diags[i].HasErrors() || f == nil || len(f.Body.(*hclsyntax.Body).Attributes) > 0 {
			return p.ParseHCL(src, filename)
		}
	}
	// The first piece's body becomes the file's: its navigation (which
	// names the block around a diagnostic) then sees every block.
	body := files[0].Body.(*hclsyntax.Body)
	var all hcl.Diagnostics
	all = append(all, diags[0]...)
	for i := 1; i < len(files); i++ {
		b := files[i].Body.(*hclsyntax.Body)
		body.Blocks = append(body.Blocks, b.Blocks...)
		body.SrcRange.End = b.SrcRange.End
		body.EndRange = b.EndRange
		all = append(all, diags[i]...)
	}
	file := files[0]
	file.Bytes = src
	p.AddFile(filename, file)
	return file, all
}
