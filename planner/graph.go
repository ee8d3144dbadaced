package planner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Graph is a dependency graph of named vertices. An edge from a to b means
// a must finish before b starts.
type Graph struct {
	ids  []string
	idx  map[string]int
	out  [][]int // out[i]: vertices that wait for i
	nin  []int   // how many vertices i waits for
	seen map[[2]int]bool
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{idx: map[string]int{}, seen: map[[2]int]bool{}} }

// Add adds a vertex; adding it twice is harmless.
func (g *Graph) Add(id string) {
	if _, ok := g.idx[id]; ok {
		return
	}
	g.idx[id] = len(g.ids)
	g.ids = append(g.ids, id)
	g.out = append(g.out, nil)
	g.nin = append(g.nin, 0)
}

// Connect makes to wait for from. Both must have been added.
func (g *Graph) Connect(from, to string) {
	f, t := g.idx[from], g.idx[to]
	if f == t || g.seen[[2]int{f, t}] {
		return
	}
	g.seen[[2]int{f, t}] = true
	g.out[f] = append(g.out[f], t)
	g.nin[t]++
}

// Len is the number of vertices.
func (g *Graph) Len() int { return len(g.ids) }

// String lists every vertex with what waits for it, sorted, for tests.
func (g *Graph) String() string {
	var b strings.Builder
	ids := append([]string(nil), g.ids...)
	sort.Strings(ids)
	for _, id := range ids {
		var outs []string
		for _, t := range g.out[g.idx[id]] {
			outs = append(outs, g.ids[t])
		}
		sort.Strings(outs)
		fmt.Fprintf(&b, "%s\n", id)
		for _, o := range outs {
			fmt.Fprintf(&b, "  -> %s\n", o)
		}
	}
	return b.String()
}

// Dot renders the graph in Graphviz's language.
func (g *Graph) Dot() string {
	var b strings.Builder
	b.WriteString("digraph labform {\n  rankdir = \"LR\";\n  node [shape = box];\n")
	ids := append([]string(nil), g.ids...)
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "  %q;\n", id)
	}
	for _, id := range ids {
		var outs []string
		for _, t := range g.out[g.idx[id]] {
			outs = append(outs, g.ids[t])
		}
		sort.Strings(outs)
		for _, o := range outs {
			fmt.Fprintf(&b, "  %q -> %q;\n", id, o)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// Cycles reports the vertices left on cycles (Kahn's algorithm), sorted;
// empty when the graph is acyclic.
func (g *Graph) Cycles() []string {
	nin := append([]int(nil), g.nin...)
	var queue []int
	for i, n := range nin {
		if n == 0 {
			queue = append(queue, i)
		}
	}
	done := 0
	for len(queue) > 0 {
		v := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		done++
		for _, t := range g.out[v] {
			if nin[t]--; nin[t] == 0 {
				queue = append(queue, t)
			}
		}
	}
	var left []string
	if done < len(g.ids) {
		for i, n := range nin {
			if n > 0 {
				left = append(left, g.ids[i])
			}
		}
	}
	sort.Strings(left)
	return left
}

// WalkResult says how each vertex ended.
type WalkResult struct {
	Errors map[string]error
	// Skipped vertices did not run because something they wait for failed
	// or was skipped.
	Skipped []string
	// NotStarted vertices did not run because the walk was stopped.
	NotStarted []string
}

// Walk runs fn for every vertex, each once all it waits for has finished
// without error, at most parallelism at a time. A failure skips everything
// that waits for it, while independent branches go on. When stop is done
// no new vertex starts; running ones finish (fn's own context is the
// caller's business, so that Ctrl-C does not cut an action in half).
func (g *Graph) Walk(stop context.Context, parallelism int, fn func(id string) error) WalkResult {
	if parallelism < 1 {
		parallelism = 1
	}
	if cyc := g.Cycles(); len(cyc) > 0 {
		panic("planner: walk of a cyclic graph: " + strings.Join(cyc, ", "))
	}
	res := WalkResult{Errors: map[string]error{}}
	n := len(g.ids)
	nin := append([]int(nil), g.nin...)
	const (
		pending = iota
		ok
		failed
		skipped
	)
	status := make([]int, n)
	var mu sync.Mutex
	ready := make(chan int, n)
	finished := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		if nin[i] == 0 {
			ready <- i
		}
	}
	// settle marks v's end and releases or skips what waits for it. Called
	// with mu held; returns how many vertices ended (v and skipped ones).
	var settle func(v, st int) int
	settle = func(v, st int) int {
		status[v] = st
		ended := 1
		for _, t := range g.out[v] {
			if st != ok {
				if status[t] == pending {
					res.Skipped = append(res.Skipped, g.ids[t])
					ended += settle(t, skipped)
				}
				continue
			}
			if nin[t]--; nin[t] == 0 && status[t] == pending {
				ready <- t
			}
		}
		return ended
	}
	remaining := n
	running := 0
	sem := make(chan struct{}, parallelism)
	stopped := false
	left := func() int { mu.Lock(); defer mu.Unlock(); return remaining }
	for left() > 0 {
		if running == 0 && len(ready) == 0 {
			break // nothing can run: the rest waits on vertices that did not
		}
		select {
		case v := <-ready:
			mu.Lock()
			if status[v] != pending {
				mu.Unlock()
				continue
			}
			mu.Unlock()
			// Take a slot first, then look at stop: a stop that came while
			// waiting for the slot must still keep v from starting.
			sem <- struct{}{}
			if stopped || stop.Err() != nil {
				<-sem
				stopped = true
				mu.Lock()
				res.NotStarted = append(res.NotStarted, g.ids[v])
				status[v] = skipped
				remaining--
				mu.Unlock()
				continue
			}
			running++
			go func(v int) {
				err := fn(g.ids[v])
				<-sem
				mu.Lock()
				st := ok
				if err != nil {
					st = failed
					res.Errors[g.ids[v]] = err
				}
				remaining -= settle(v, st)
				mu.Unlock()
				finished <- struct{}{}
			}(v)
		case <-finished:
			running--
		case <-stop.Done():
			stopped = true
			stop = context.Background() // seen; keep draining
		}
	}
	for running > 0 {
		<-finished
		running--
	}
	for i := 0; i < n; i++ {
		if status[i] == pending {
			res.NotStarted = append(res.NotStarted, g.ids[i])
		}
	}
	sort.Strings(res.Skipped)
	sort.Strings(res.NotStarted)
	return res
}
