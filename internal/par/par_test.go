package par

import (
	"sync/atomic"
	"testing"
)

func TestFor(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 127, 1000, 1001, 100003} {
		seen := make([]int32, n)
		For(n, func(i int) { atomic.AddInt32(&seen[i], 1) })
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: index %d ran %d times", n, i, c)
			}
		}
	}
}

func TestLimit(t *testing.T) {
	for _, c := range []struct{ n, limit int }{{0, 3}, {1, 1}, {50, 10}, {7, 0}} {
		seen := make([]int32, c.n)
		var running, most atomic.Int32
		Limit(c.n, c.limit, func(i int) {
			now := running.Add(1)
			for {
				m := most.Load()
				if now <= m || most.CompareAndSwap(m, now) {
					break
				}
			}
			atomic.AddInt32(&seen[i], 1)
			running.Add(-1)
		})
		for i, s := range seen {
			if s != 1 {
				t.Fatalf("n=%d: index %d ran %d times", c.n, i, s)
			}
		}
		if lim := int32(max(c.limit, 1)); most.Load() > lim {
			t.Fatalf("n=%d limit=%d: %d ran at once", c.n, c.limit, most.Load())
		}
	}
}
