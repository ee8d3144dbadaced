package par

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For runs fn(0..n-1) on every core; fn must write only what belongs to
// its own i. The cores take small runs of indexes as they finish the
// last, so that a slow part (the firewall chains after thousands of
// links, say) does not leave one core working alone. Small n runs
// inline: goroutines cost more.
func For(n int, fn func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 64 || workers < 2 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	// About 16 runs per core: few enough that taking one costs nothing,
	// many enough that the cores finish together.
	run := max(1, n/(16*workers))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(int64(run))) - run
				if start >= n {
					return
				}
				for i := start; i < min(start+run, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
}

// Limit runs fn(0..n-1) at most limit at a time, each in a goroutine of
// its own: for work that waits (a tool, a round trip), where For's one
// goroutine per core would leave the waits in series. fn must write only
// what belongs to its own i.
func Limit(n, limit int, fn func(i int)) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}
