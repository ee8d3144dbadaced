package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
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

// TestStore_panicInATransactionIsAnError damages the pages of an open
// state under bbolt's feet: the reads that follow are errors naming the
// backup, not panics, and the store writes no more.
func TestStore_panicInATransactionIsAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s := mustOpen(t, path)
	defer s.Close()
	for i := 0; i < 50; i++ {
		if err := s.Put(&Record{Addr: fmt.Sprint("r", i), Value: make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Backup(BackupDir(path), 10); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	ps := os.Getpagesize()
	junk := make([]byte, ps)
	for i := range junk {
		junk[i] = 0xa5
	}
	for off := int64(2 * ps); off < st.Size(); off += int64(ps) {
		f.WriteAt(junk, off)
	}
	f.Close()
	_, err = s.Resources()
	var ce *CorruptError
	var pe PanicError
	if !errors.As(err, &ce) || !errors.As(err, &pe) || ce.Backup == nil {
		t.Fatalf("reading damaged pages: got %v, want a CorruptError from a caught panic, naming a backup", err)
	}
	if err := s.Put(&Record{Addr: "x"}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a write after the panic: got %v, want the damage", err)
	}
}

// TestStore_valueDamageIsCaughtByTheChecksum: a byte changed inside a
// record, which bbolt's structure does not see, is an error.
func TestStore_valueDamageIsCaughtByTheChecksum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	s.Put(&Record{Addr: "vm.a", Type: "vm", Provider: "qemu", Private: []byte("pid=12345")})
	s.Close()
	b, _ := os.ReadFile(path)
	i := strings.Index(string(b), "cGlkPTEyMzQ1") // base64 of pid=12345
	if i < 0 {
		t.Fatal("record not found in the file")
	}
	b[i+10] = 'Z'
	os.WriteFile(path, b, 0o600)
	for _, ro := range []bool{true, false} {
		if _, err := Open(path, Options{ReadOnly: ro}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("readOnly=%v: got %v, want a checksum error", ro, err)
		}
	}
}

// TestStore_olderFileWithoutChecksum: a state written before the checksum
// existed opens, and gets one at its first writable open.
func TestStore_olderFileWithoutChecksum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	s.Put(&Record{Addr: "vm.a"})
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keySum) })
	db.Close()
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	w := mustOpen(t, path)
	w.Close()
	db, _ = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(keySum) == nil {
			t.Error("the first writable open must add the checksum")
		}
		return nil
	})
}

func TestStore_readOnlyTakesNoLockAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s := mustOpen(t, path)
	defer s.Close()
	s.Put(&Record{Addr: "vm.a"})
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("a read-only open while the lock is held: %v", err)
	}
	defer r.Close()
	if recs, _ := r.Resources(); len(recs) != 1 {
		t.Fatalf("read-only: %d records, want 1", len(recs))
	}
	if err := r.Put(&Record{Addr: "vm.b"}); err == nil {
		t.Fatal("a read-only store must refuse writes")
	}
	// A missing state reads as empty, without creating anything.
	missing := filepath.Join(dir, "none", "state.db")
	e, err := Open(missing, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := e.Meta()
	e.Close()
	if m.Lineage != "" {
		t.Errorf("a missing state has lineage %q, want none", m.Lineage)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Error("a read-only open created the state's directory")
	}
}

// state10k is a state of 10,000 records of about 1 KiB, the size of the
// lab of the README's benchmarks.
func state10k(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	recs := make([]*Record, 10000)
	for i := range recs {
		recs[i] = &Record{Addr: fmt.Sprintf("container.c[%d]", i), Type: "container", Provider: "container", Value: make([]byte, 700), Private: make([]byte, 100)}
	}
	if err := s.Put(recs...); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkOpen10k: the checks every Open makes.
func BenchmarkOpen10k(b *testing.B) {
	path := state10k(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkCommit10k: one small write to a 10,000-record state (the
// checksum covers the whole content).
func BenchmarkCommit10k(b *testing.B) {
	s, err := Open(state10k(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Put(&Record{Addr: "vm.a", Value: []byte{byte(i)}}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStore_checksumFollowsEveryWrite: after every kind of write the
// file reopens, that is its kept checksum matches its content.
func TestStore_checksumFollowsEveryWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	steps := []func(s *Store) error{
		func(s *Store) error { return s.Put(&Record{Addr: "a"}, &Record{Addr: "b", Value: []byte{1}}) },
		func(s *Store) error { return s.Put(&Record{Addr: "a", Value: []byte{2}}) },
		func(s *Store) error { return s.Delete("b", "nothing") },
		func(s *Store) error {
			seq, err := s.Begin(&Intent{Addr: "c", Action: "create"})
			if err == nil {
				err = s.Settle(seq, &Record{Addr: "c"}, "")
			}
			return err
		},
		func(s *Store) error { _, err := s.BeginMany([]*Intent{{Addr: "d"}, {Addr: "e"}}); return err },
		func(s *Store) error { return s.CloseIntents(4) },
		func(s *Store) error {
			return s.SetOutputs(map[string]*Output{"o": {Value: []byte(`1`), Type: []byte(`"number"`)}})
		},
		func(s *Store) error { return s.SetOutputs(nil) },
		func(s *Store) error {
			return s.Replace("", []*Record{{Addr: "z"}}, map[string]*Output{"p": {Value: []byte(`2`)}})
		},
		func(s *Store) error { return s.Replace("other-lineage", nil, nil) },
	}
	for i, step := range steps {
		s := mustOpen(t, path)
		if err := step(s); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		s.Close()
		if _, err := inspectFileErr(path); err != nil {
			t.Fatalf("after step %d: %v", i, err)
		}
	}
}

func inspectFileErr(path string) (BackupInfo, error) {
	bi := InspectFile(path)
	return bi, bi.Err
}

// TestStore_readOnlySnapshotsDuringWrites: read-only opens taken while a
// writer commits without pause are all whole: never an error, never fewer
// records than an earlier read saw.
func TestStore_readOnlySnapshotsDuringWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	defer s.Close()
	stop := make(chan struct{})
	done := make(chan error)
	var written atomic.Int64
	go func() {
		for i := 0; ; i++ {
			written.Store(int64(i))
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			// 500 records at most, some 3 KiB: a lab's state of about 1 MiB.
			if err := s.Put(&Record{Addr: fmt.Sprint("r", i%500), Value: make([]byte, 200+i%3000)}); err != nil {
				done <- err
				return
			}
			if i%3 == 0 { // rewrite an older record, smaller: pages are freed and reused
				s.Put(&Record{Addr: fmt.Sprint("r", (i/2)%500), Value: make([]byte, 10)})
			}
		}
	}()
	last := 0
	var failure error
	reads := 0
	for ; (reads < 150 || written.Load() < 1000) && failure == nil; reads++ {
		i := reads
		r, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			failure = fmt.Errorf("read %d during writes: %v", i, err)
			break
		}
		recs, err := r.Resources()
		r.Close()
		if err != nil || len(recs) < last || len(recs) > 500 {
			failure = fmt.Errorf("read %d: %d records (earlier %d), %v", i, len(recs), last, err)
		}
		last = len(recs)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if failure != nil {
		t.Fatal(failure)
	}
	t.Logf("%d snapshots during %d writes (%d read again), the last saw %d records", reads, written.Load(), snapshotRetries.Load(), last)
}

// TestStore_concurrentFirstOpens: runs that create the state at the same
// moment all end up with the one state, and none finds it empty.
func TestStore_concurrentFirstOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	var wg sync.WaitGroup
	lineages := make([]string, 8)
	for i := range lineages {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := Open(path, Options{LockTimeout: 10 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			m, _ := s.Meta()
			lineages[i] = m.Lineage
			s.Close()
		}(i)
	}
	wg.Wait()
	for _, l := range lineages {
		if l == "" || l != lineages[0] {
			t.Fatalf("lineages %v: want one", lineages)
		}
	}
	if m, _ := filepath.Glob(path + ".new-*"); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// TestStore_backupOnlyWhenChanged: a backup of a state that has not
// changed since the newest backup copies nothing and names that backup;
// a change makes a new one, and the kept backups are different states.
func TestStore_backupOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, filepath.Join(dir, "state.db"))
	defer s.Close()
	bdir := filepath.Join(dir, "backups")
	if err := s.Put(&Record{Addr: "r0"}); err != nil {
		t.Fatal(err)
	}
	first, err := s.Backup(bdir, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		again, err := s.Backup(bdir, 2)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatalf("backup %d of an unchanged state made %s; want the newest backup, %s", i+2, again, first)
		}
	}
	if err := s.Put(&Record{Addr: "r1"}); err != nil {
		t.Fatal(err)
	}
	second, err := s.Backup(bdir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("a changed state was not backed up")
	}
	all, err := Backups(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Path != second || all[1].Path != first {
		t.Fatalf("backups %+v: want %s then %s", all, second, first)
	}
	for _, b := range all {
		if b.Err != nil {
			t.Errorf("%s: %v", b.Path, b.Err)
		}
	}
	if all[0].Serial <= all[1].Serial {
		t.Errorf("serials %d, %d: want the newest backup's higher", all[0].Serial, all[1].Serial)
	}
}

// TestStore_unchangedOutputsWriteNothing: setting the outputs the state
// already has writes nothing (the serial stays), so that an apply that
// changed nothing leaves the state, and its newest backup, as they were.
func TestStore_unchangedOutputsWriteNothing(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	outs := map[string]*Output{"a": {Value: []byte(`"x"`)}, "b": {Value: []byte(`1`)}}
	if err := s.SetOutputs(outs); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Meta()
	if err := s.SetOutputs(map[string]*Output{"b": {Value: []byte(`1`)}, "a": {Value: []byte(`"x"`)}}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Meta(); m.Serial != before.Serial {
		t.Errorf("the same outputs again: serial %d, was %d", m.Serial, before.Serial)
	}
	for _, changed := range []map[string]*Output{{"a": {Value: []byte(`"y"`)}, "b": {Value: []byte(`1`)}}, {"a": {Value: []byte(`"y"`)}}, {}} {
		before, _ := s.Meta()
		if err := s.SetOutputs(changed); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Meta(); m.Serial == before.Serial {
			t.Errorf("outputs changed to %d of them: the serial stayed %d", len(changed), m.Serial)
		}
		got, _ := s.Outputs()
		if len(got) != len(changed) {
			t.Errorf("outputs changed to %d of them: %d stored", len(changed), len(got))
		}
	}
}
