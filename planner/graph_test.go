package planner

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

func chain(ids ...string) *Graph {
	g := NewGraph()
	for _, id := range ids {
		g.Add(id)
	}
	for i := 1; i < len(ids); i++ {
		g.Connect(ids[i-1], ids[i])
	}
	return g
}

func TestGraph_WalkOrder(t *testing.T) {
	// a -> b -> d, a -> c -> d: d last, a first.
	g := NewGraph()
	for _, id := range []string{"a", "b", "c", "d"} {
		g.Add(id)
	}
	g.Connect("a", "b")
	g.Connect("a", "c")
	g.Connect("b", "d")
	g.Connect("c", "d")
	var mu sync.Mutex
	var order []string
	res := g.Walk(context.Background(), 4, func(id string) error {
		mu.Lock()
		order = append(order, id)
		mu.Unlock()
		return nil
	})
	if len(res.Errors) != 0 || len(order) != 4 || order[0] != "a" || order[3] != "d" {
		t.Fatalf("wrong order %v (result %+v)", order, res)
	}
}

func TestGraph_WalkFailureSkipsDependantsOnly(t *testing.T) {
	g := chain("a", "b", "c")
	g.Add("x") // independent
	g.Add("y")
	g.Connect("x", "y")
	var ran sync.Map
	res := g.Walk(context.Background(), 2, func(id string) error {
		ran.Store(id, true)
		if id == "a" {
			return errors.New("boom")
		}
		return nil
	})
	if _, ok := res.Errors["a"]; !ok || len(res.Errors) != 1 {
		t.Fatalf("errors: %v", res.Errors)
	}
	if !reflect.DeepEqual(res.Skipped, []string{"b", "c"}) {
		t.Fatalf("skipped %v, want [b c]", res.Skipped)
	}
	for _, id := range []string{"x", "y"} {
		if _, ok := ran.Load(id); !ok {
			t.Errorf("independent vertex %s did not run", id)
		}
	}
	if _, ok := ran.Load("b"); ok {
		t.Error("b ran although a failed")
	}
}

func TestGraph_WalkRespectsParallelism(t *testing.T) {
	g := NewGraph()
	for i := 0; i < 40; i++ {
		g.Add(fmt.Sprint(i))
	}
	var cur, peak int32
	g.Walk(context.Background(), 3, func(string) error {
		n := atomic.AddInt32(&cur, 1)
		for {
			p := atomic.LoadInt32(&peak)
			if n <= p || atomic.CompareAndSwapInt32(&peak, p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		atomic.AddInt32(&cur, -1)
		return nil
	})
	if peak > 3 || peak < 2 {
		t.Fatalf("peak concurrency %d, want at most 3 (and some parallelism)", peak)
	}
}

func TestGraph_WalkStopLetsRunningFinish(t *testing.T) {
	g := NewGraph()
	for i := 0; i < 20; i++ {
		g.Add(fmt.Sprint(i))
	}
	stop, cancel := context.WithCancel(context.Background())
	var started, finished int32
	res := g.Walk(stop, 2, func(string) error {
		atomic.AddInt32(&started, 1)
		cancel()
		time.Sleep(20 * time.Millisecond)
		atomic.AddInt32(&finished, 1)
		return nil
	})
	if started != finished {
		t.Fatalf("started %d, finished %d: running actions must finish", started, finished)
	}
	if started > 2 || int(started)+len(res.NotStarted) != 20 {
		t.Fatalf("started %d, not started %d: after a stop nothing new may start", started, len(res.NotStarted))
	}
}

func TestGraph_Cycles(t *testing.T) {
	tests := map[string]struct {
		edges [][2]string
		want  [][]string
		text  string
	}{
		"acyclic": {edges: [][2]string{{"a", "b"}, {"b", "c"}}},
		// d waits for the cycle but is on none: it is not reported.
		"one loop, a waiter": {edges: [][2]string{{"b", "c"}, {"c", "a"}, {"a", "b"}, {"c", "d"}},
			want: [][]string{{"a", "b", "c"}}, text: "a -> b -> c -> a"},
		"two loops, sorted": {edges: [][2]string{{"y", "x"}, {"x", "y"}, {"b", "a"}, {"a", "b"}},
			want: [][]string{{"a", "b"}, {"x", "y"}}, text: "a -> b -> a; x -> y -> x"},
		// a -> b -> a and a -> c -> a share a: both are reported, each once.
		"two loops through one vertex": {edges: [][2]string{{"a", "c"}, {"c", "a"}, {"a", "b"}, {"b", "a"}},
			want: [][]string{{"a", "b"}, {"c", "a"}}, text: "a -> b -> a; c -> a -> c"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewGraph()
			for _, e := range tc.edges {
				g.Add(e[0])
				g.Add(e[1])
			}
			for _, e := range tc.edges {
				g.Connect(e[0], e[1])
			}
			got := g.Cycles()
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("cycles %v, want %v", got, tc.want)
			}
			if s := FormatCycles(got); s != tc.text {
				t.Fatalf("formatted %q, want %q", s, tc.text)
			}
		})
	}
}

func TestValuesEqual(t *testing.T) {
	obj := func(n int64, s string, l ...string) cty.Value {
		var elems []cty.Value
		for _, x := range l {
			elems = append(elems, cty.StringVal(x))
		}
		list := cty.ListValEmpty(cty.String)
		if len(elems) > 0 {
			list = cty.ListVal(elems)
		}
		return cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(n), "s": cty.StringVal(s), "l": list,
			"m": cty.MapVal(map[string]cty.Value{"k": cty.StringVal(s)})})
	}
	cases := map[string]struct {
		a, b cty.Value
		want bool
	}{
		"same":           {obj(1, "a", "x"), obj(1, "a", "x"), true},
		"number differs": {obj(1, "a"), obj(2, "a"), false},
		"string differs": {obj(1, "a"), obj(1, "b"), false},
		"list longer":    {obj(1, "a", "x"), obj(1, "a", "x", "y"), false},
		"list element":   {obj(1, "a", "x"), obj(1, "a", "y"), false},
		"unknown":        {cty.UnknownVal(cty.String), cty.UnknownVal(cty.String), false},
		"unknown inside": {obj(1, "a"), cty.ObjectVal(map[string]cty.Value{"n": cty.UnknownVal(cty.Number), "s": cty.StringVal("a"), "l": cty.ListValEmpty(cty.String), "m": cty.MapVal(map[string]cty.Value{"k": cty.StringVal("a")})}), false},
		"nulls":          {cty.NullVal(cty.String), cty.NullVal(cty.String), true},
		"null and value": {cty.NullVal(cty.String), cty.StringVal(""), false},
		"precision":      {cty.NumberIntVal(3), cty.MustParseNumberVal("3.000"), true},
	}
	for name, tc := range cases {
		if got := valuesEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}
