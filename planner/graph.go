package planner

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/labform/labform/config"
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

// DependencyGraph is the graph of the configuration's instances: an edge
// from each instance to every instance that uses it. It is the order a
// create of the whole lab follows; `labform graph -type=plan` draws it.
func DependencyGraph(d *config.Desired) *Graph {
	g := NewGraph()
	for _, ia := range d.Order {
		g.Add(ia.String())
	}
	for _, ia := range d.Order {
		for _, dep := range d.Instances[ia].Deps {
			g.Connect(dep.String(), ia.String())
		}
	}
	return g
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

// Cycles reports the graph's cycles, empty when it is acyclic. A vertex
// that only waits for a cycle is on none and is not reported. Each cycle
// starts at the smallest of its vertices not yet reported and follows the
// edges back to it (a, b, c for a -> b -> c -> a): for a loop, that is its
// smallest vertex. Where loops share vertices (a strongly connected
// component that is not one loop), the shortest cycle through the
// smallest vertex not yet reported is taken until every vertex on a cycle
// is in one, so the report is short, complete and the same from run to
// run. The cycles are sorted.
func (g *Graph) Cycles() [][]string {
	var cycles [][]string
	for _, comp := range g.components() {
		if len(comp) < 2 {
			continue // Connect refuses self-loops: one vertex is no cycle
		}
		in := make(map[int]bool, len(comp))
		for _, v := range comp {
			in[v] = true
		}
		covered := map[int]bool{}
		for _, start := range comp { // sorted by name
			if covered[start] {
				continue
			}
			c := g.shortestCycle(start, in)
			ids := make([]string, len(c))
			for i, v := range c {
				ids[i], covered[v] = g.ids[v], true
			}
			cycles = append(cycles, ids)
		}
	}
	slices.SortFunc(cycles, func(a, b []string) int { return slices.Compare(a, b) })
	return cycles
}

// FormatCycles writes cycles for a message: "a -> b -> a; c -> d -> c".
func FormatCycles(cycles [][]string) string {
	parts := make([]string, len(cycles))
	for i, c := range cycles {
		parts[i] = strings.Join(append(slices.Clone(c), c[0]), " -> ")
	}
	return strings.Join(parts, "; ")
}

// components are the strongly connected components (Tarjan's algorithm,
// iterative so that a chain of 10,000 resources does not grow the stack),
// each sorted by vertex name.
func (g *Graph) components() [][]int {
	n := len(g.ids)
	index, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var comps [][]int
	var sccStack []int
	next := 0
	type frame struct{ v, edge int }
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		sccStack = append(sccStack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.edge < len(g.out[f.v]) {
				w := g.out[f.v][f.edge]
				f.edge++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					sccStack = append(sccStack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				case onStack[w]:
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				var comp []int
				for {
					w := sccStack[len(sccStack)-1]
					sccStack = sccStack[:len(sccStack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				slices.SortFunc(comp, func(a, b int) int { return strings.Compare(g.ids[a], g.ids[b]) })
				comps = append(comps, comp)
			}
		}
	}
	return comps
}

// shortestCycle is the shortest path from start back to start inside the
// vertices of in (breadth first, successors in name order), as the list
// of vertices from start.
func (g *Graph) shortestCycle(start int, in map[int]bool) []int {
	prev := map[int]int{}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		succ := slices.Clone(g.out[v])
		slices.SortFunc(succ, func(a, b int) int { return strings.Compare(g.ids[a], g.ids[b]) })
		for _, w := range succ {
			if !in[w] {
				continue
			}
			if w == start {
				path := []int{v}
				for path[len(path)-1] != start {
					path = append(path, prev[path[len(path)-1]])
				}
				slices.Reverse(path)
				return path
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []int{start} // unreachable for a vertex of a component of two or more
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
		panic("planner: walk of a cyclic graph: " + FormatCycles(cyc))
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
