package container

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container/image"
)

var _ providers.Prefetcher = (*Provider)(nil)

// Prefetch fetches the images of the lab's containers into the store,
// each once, with progress: on a terminal one line per image redrawn as
// bytes arrive, otherwise a line when it starts and one when it is done.
func (p *Provider) Prefetch(ctx context.Context, req providers.PrefetchRequest) error {
	refs := map[string]string{} // reference -> digest, when planned
	for addr, v := range req.Values {
		if req.Types[addr] != "container" || v.IsNull() {
			continue
		}
		if img := v.GetAttr("image"); img.IsKnown() && !img.IsNull() {
			refs[img.AsString()] = ""
			if d := v.GetAttr("image_digest"); d.IsKnown() && !d.IsNull() {
				refs[img.AsString()] = d.AsString()
			}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	given := make([]string, 0, len(refs))
	for r := range refs {
		given = append(given, r)
	}
	sort.Strings(given)
	header := false
	if !req.Quiet {
		fmt.Fprintf(req.Out, "\nContainer images (store %s):\n", p.store.Dir)
	}
	for _, g := range given {
		ref, err := image.Parse(g, p.lab.Dir)
		if err != nil {
			return fmt.Errorf("image %s: %w", g, err)
		}
		digest := refs[g]
		if digest == "" {
			if digest, err = image.Resolve(ctx, ref); err != nil {
				return fmt.Errorf("image %s: %w", g, err)
			}
		}
		if _, ok := p.store.Lookup(digest); ok {
			if !req.Quiet {
				fmt.Fprintf(req.Out, "- %s: %s, already in the store\n", g, digest)
			}
			continue
		}
		if req.Quiet && !header {
			fmt.Fprintf(req.Out, "Container images (store %s):\n", p.store.Dir)
			header = true
		}
		pr := newProgress(req.Out, req.Terminal, g)
		start := time.Now()
		if !req.Terminal {
			fmt.Fprintf(req.Out, "- %s: fetching %s\n", g, digest)
		}
		if _, err := p.store.Ensure(ctx, ref, digest, pr.update); err != nil {
			pr.end("failed")
			return err
		}
		pr.end(fmt.Sprintf("%s, fetched and unpacked in %.1f s", digest, time.Since(start).Seconds()))
	}
	return nil
}

// progress draws one image's progress.
type progress struct {
	mu          sync.Mutex
	out         io.Writer
	terminal    bool
	name        string
	done, total int64
	last        time.Time
}

func newProgress(out io.Writer, terminal bool, name string) *progress {
	return &progress{out: out, terminal: terminal, name: name}
}

func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	if !p.terminal || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.out, "\r\x1b[K- %s: %s", p.name, p.bytes())
}

func (p *progress) bytes() string {
	if p.total > 0 {
		return fmt.Sprintf("%s of %s", size(p.done), size(p.total))
	}
	return size(p.done)
}

func (p *progress) end(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal {
		fmt.Fprint(p.out, "\r\x1b[K")
	}
	fmt.Fprintf(p.out, "- %s: %s (%s)\n", p.name, what, size(p.done))
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
