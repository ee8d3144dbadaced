package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore_lineageAndSerialPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	m1, _ := s.Meta()
	if m1.Lineage == "" || m1.Serial != 0 {
		t.Fatalf("new state: got %+v, want a lineage and serial 0", m1)
	}
	if err := s.Put(&Record{Addr: "vm.a", Type: "vm", Provider: "qemu", Value: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, path)
	defer s.Close()
	m2, _ := s.Meta()
	if m2.Lineage != m1.Lineage || m2.Serial != 1 {
		t.Fatalf("reopened: got %+v, want lineage %s and serial 1", m2, m1.Lineage)
	}
	r, err := s.Get("vm.a")
	if err != nil || r == nil || r.Provider != "qemu" {
		t.Fatalf("Get: %+v %v", r, err)
	}
}

func TestStore_lockContentionNamesHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	defer s.Close()
	start := time.Now()
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), "-lock-timeout") {
		t.Errorf("the refusal must name the holder and the way out: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("without -lock-timeout the refusal must come at once, took %v", d)
	}
}

func TestStore_lockTimeoutWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	go func() { time.Sleep(100 * time.Millisecond); s.Close() }()
	s2, err := Open(path, Options{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("with a lock timeout the second open must wait for the first: %v", err)
	}
	s2.Close()
}

func TestStore_intentsSettleAtomically(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	seq, err := s.Begin(&Intent{Addr: "vm.a", Action: "create", Type: "vm", Provider: "qemu", Planned: []byte{7}})
	if err != nil {
		t.Fatal(err)
	}
	j, _ := s.Journal()
	if len(j) != 1 || j[0].Addr != "vm.a" || j[0].Seq != seq || j[0].Planned[0] != 7 {
		t.Fatalf("open intent not journaled: %+v", j)
	}
	if err := s.Settle(seq, &Record{Addr: "vm.a", Type: "vm", Provider: "qemu"}, ""); err != nil {
		t.Fatal(err)
	}
	j, _ = s.Journal()
	r, _ := s.Get("vm.a")
	if len(j) != 0 || r == nil {
		t.Fatalf("after Settle: journal %v, record %v; want no intent and the record", j, r)
	}
	seq, _ = s.Begin(&Intent{Addr: "vm.a", Action: "delete"})
	s.Settle(seq, nil, "vm.a")
	if r, _ := s.Get("vm.a"); r != nil {
		t.Fatal("a settled delete must remove the record")
	}
}

func TestStore_concurrentWritesAreGroupedAndAllLand(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	const n = 500
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			seq, err := s.Begin(&Intent{Addr: fmt.Sprint("r", i), Action: "create"})
			if err == nil {
				err = s.Settle(seq, &Record{Addr: fmt.Sprint("r", i)}, "")
			}
			if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	recs, _ := s.Resources()
	j, _ := s.Journal()
	m, _ := s.Meta()
	if len(recs) != n || len(j) != 0 {
		t.Fatalf("got %d records and %d open intents, want %d and 0", len(recs), len(j), n)
	}
	if m.Serial == 0 || m.Serial > 2*n {
		t.Fatalf("serial %d: want it to grow with the writes, at most one per write", m.Serial)
	}
	t.Logf("%d writes committed in %d transactions", 2*n, m.Serial)
}

func TestStore_backupKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, filepath.Join(dir, "state.db"))
	defer s.Close()
	for i := 0; i < 4; i++ {
		s.Put(&Record{Addr: fmt.Sprint("r", i)})
		if _, err := s.Backup(filepath.Join(dir, "backups"), 2); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "backups"))
	if len(entries) != 2 {
		t.Fatalf("want the 2 newest backups, got %d", len(entries))
	}
	b, err := Open(filepath.Join(dir, "backups", entries[1].Name()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if recs, _ := b.Resources(); len(recs) != 4 {
		t.Fatalf("the newest backup holds %d records, want 4", len(recs))
	}
}
