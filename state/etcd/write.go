package etcd

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labform/labform/state"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var randRead = rand.Read

// mutation is one change to the state, relative to the prefix. The list
// of a write is what the unsaved file keeps when etcd cannot take it.
type mutation struct {
	Op string `json:"op"` // put, del, delp (every key under K), serial (set the serial base)
	K  string `json:"k"`
	V  []byte `json:"v,omitempty"`
}

// mut collects a write's mutations, applying them to the store's copy as
// it goes (the writer holds s.mu) and keeping what to undo.
type mut struct {
	s    *Store
	list []mutation
	undo []undoEntry
}

type undoEntry struct {
	k   string
	v   []byte
	had bool
}

func (m *mut) get(k string) []byte { return m.s.kv[k] }

func (m *mut) save(k string) {
	v, had := m.s.kv[k]
	m.undo = append(m.undo, undoEntry{k, v, had})
}

func (m *mut) put(k string, v []byte) {
	m.save(k)
	m.s.kv[k] = v
	m.list = append(m.list, mutation{Op: "put", K: k, V: v})
}

func (m *mut) del(k string) {
	m.save(k)
	delete(m.s.kv, k)
	m.list = append(m.list, mutation{Op: "del", K: k})
}

func (m *mut) delPrefix(p string) {
	for k := range m.s.kv {
		if strings.HasPrefix(k, p) {
			m.save(k)
			delete(m.s.kv, k)
		}
	}
	m.list = append(m.list, mutation{Op: "delp", K: p})
}

// mut writes the state's layout (state.Writes) as keys under the prefix:
// a sequence number is 16 hex digits, so that key order is the
// journal's, and the journal's counter is decimal text, as etcd's own
// tools show it.
var _ state.Writes = (*mut)(nil)

func (m *mut) PutRecord(address string, enc []byte) error {
	m.put("resources/"+address, enc)
	return nil
}
func (m *mut) DeleteRecord(address string) error       { m.del("resources/" + address); return nil }
func (m *mut) PutIntent(seq uint64, enc []byte) error  { m.put(seqKey(seq), enc); return nil }
func (m *mut) DeleteIntent(seq uint64) error           { m.del(seqKey(seq)); return nil }
func (m *mut) PutOutput(name string, enc []byte) error { m.put("outputs/"+name, enc); return nil }
func (m *mut) Clear(p state.Part) error                { m.delPrefix(string(p) + "/"); return nil }
func (m *mut) SetMeta(f state.MetaField, v string) error {
	m.put("meta/"+string(f), []byte(v))
	return nil
}

func (m *mut) NextIntent() uint64 {
	n, _ := strconv.ParseUint(string(m.get("meta/next_intent")), 10, 64)
	return n
}

func (m *mut) SetNextIntent(n uint64) error {
	m.put("meta/next_intent", []byte(strconv.FormatUint(n, 10)))
	return nil
}

func (m *mut) SetSerialBase(n uint64) error { m.setSerial(n); return nil }

// setSerial makes the serial of the write's last transaction n+1.
func (m *mut) setSerial(n uint64) {
	m.list = append(m.list, mutation{Op: "serial", V: []byte(strconv.FormatUint(n, 10))})
}

func (m *mut) rollback() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		u := m.undo[i]
		if u.had {
			m.s.kv[u.k] = u.v
		} else {
			delete(m.s.kv, u.k)
		}
	}
}

func (x mutation) apply(m *mut) {
	switch x.Op {
	case "put":
		m.put(x.K, x.V)
	case "del":
		m.del(x.K)
	case "delp":
		m.delPrefix(x.K)
	case "serial":
		n, _ := strconv.ParseUint(string(x.V), 10, 64)
		m.setSerial(n)
	}
}

// applyCache applies mutations to the copy only (a read-only view of
// what an earlier run could not write).
func (s *Store) applyCache(list []mutation) {
	m := &mut{s: s}
	for _, x := range list {
		x.apply(m)
	}
}

func (s *Store) write(fn func(m *mut) error) error { return <-s.writeAsync(fn) }

// run commits a write made by the state package.
func (s *Store) run(wr state.Write, err error) error {
	return <-state.QueueWrite(s.ops, s.readOnly, wr, err)
}

func (s *Store) writeAsync(fn func(m *mut) error) <-chan error {
	return state.Queue(s.ops, s.readOnly, fn)
}

// writer commits queued writes in groups: what arrived while the last
// transaction was on its way goes into the next one.
func (s *Store) writer() {
	defer close(s.done)
	for first := range s.ops {
		batch := state.Gather(first, s.ops, 1024)
		s.mu.Lock()
		m := &mut{s: s}
		var bounds []int
		var err error
		for _, o := range batch {
			if err = o.Fn(m); err != nil {
				break
			}
			bounds = append(bounds, len(m.list))
		}
		if err != nil {
			m.rollback()
		}
		s.mu.Unlock()
		if err == nil {
			err = s.commit(m, bounds)
		}
		for _, o := range batch {
			o.Err <- err
		}
	}
}

// errGone marks a failure after which this run cannot write etcd.
type errGone struct{ err error }

func (e errGone) Error() string { return e.err.Error() }
func (e errGone) Unwrap() error { return e.err }

func (s *Store) commit(m *mut, bounds []int) error {
	if reason := s.lostReason(); reason != nil {
		return s.keepUnsaved(m.list, reason)
	}
	chunks := chunk(m.list, bounds)
	for i, c := range chunks {
		err := s.commitChunk(c)
		if err == nil {
			continue
		}
		var gone errGone
		if errors.As(err, &gone) {
			s.markLost(gone.err)
			var rest []mutation
			for _, c := range chunks[i:] {
				rest = append(rest, c...)
			}
			return s.keepUnsaved(rest, gone.err)
		}
		if i == 0 {
			s.mu.Lock()
			m.rollback()
			s.mu.Unlock()
		}
		return err
	}
	return nil
}

// chunk splits a write into transactions that etcd takes: at most
// maxTxnOps operations and maxTxnBytes, no key twice (etcd refuses that),
// and each op's mutations (bounds end them) in one transaction unless
// they alone are too many.
func chunk(list []mutation, bounds []int) [][]mutation {
	var out [][]mutation
	var cur []mutation
	size := 0
	keys := map[string]bool{}
	var ranges []string
	conflicts := func(x mutation) bool {
		if x.Op == "serial" {
			return false
		}
		if x.Op == "delp" {
			for k := range keys {
				if strings.HasPrefix(k, x.K) {
					return true
				}
			}
			return len(ranges) > 0
		}
		if keys[x.K] {
			return true
		}
		for _, r := range ranges {
			if strings.HasPrefix(x.K, r) {
				return true
			}
		}
		return false
	}
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur, size, keys, ranges = nil, 0, map[string]bool{}, nil
	}
	add := func(x mutation) {
		cur = append(cur, x)
		size += len(x.K) + len(x.V) + 16
		if x.Op == "delp" {
			ranges = append(ranges, x.K)
		} else if x.Op != "serial" {
			keys[x.K] = true
		}
	}
	fits := func(ops []mutation) bool {
		n, b := len(cur), size
		for _, x := range ops {
			if conflicts(x) {
				return false
			}
			n++
			b += len(x.K) + len(x.V) + 16
		}
		return n+1 <= maxTxnOps && b <= maxTxnBytes
	}
	start := 0
	for _, end := range bounds {
		ops := list[start:end]
		start = end
		if !fits(ops) {
			flush()
		}
		for _, x := range ops {
			if len(cur)+2 > maxTxnOps || size+len(x.K)+len(x.V)+16 > maxTxnBytes || conflicts(x) {
				flush()
			}
			add(x)
		}
	}
	flush()
	return out
}

// writeBudget is how long a transaction is tried before the state counts
// as unreachable (the lease's end stops it sooner).
func (s *Store) writeBudget() time.Duration {
	if b := 2 * s.cfg.LockTTL; b > 15*time.Second {
		return b
	}
	return 15 * time.Second
}

// tryTimeout is how long one try of a transaction waits for its answer:
// a member that went away is given up on well before the lease ends.
func (s *Store) tryTimeout() time.Duration {
	if t := s.cfg.LockTTL / 2; t < 5*time.Second {
		return t
	}
	return 5 * time.Second
}

// commitChunk writes one transaction, with the serial one up, if this run
// still holds the lock and nobody wrote since. It tries again while etcd
// does not answer (a leader election), and tells a try that landed
// although its answer was lost by the serial it wrote.
func (s *Store) commitChunk(c []mutation) error {
	s.mu.Lock()
	base, _ := strconv.ParseUint(string(s.kv["meta/serial"]), 10, 64)
	rev := s.serialRev
	s.mu.Unlock()
	var ops []clientv3.Op
	for _, x := range c {
		switch x.Op {
		case "put":
			ops = append(ops, clientv3.OpPut(s.p+x.K, string(x.V)))
		case "del":
			ops = append(ops, clientv3.OpDelete(s.p+x.K))
		case "delp":
			ops = append(ops, clientv3.OpDelete(s.p+x.K, clientv3.WithPrefix()))
		case "serial":
			base, _ = strconv.ParseUint(string(x.V), 10, 64)
		}
	}
	next := strconv.FormatUint(base+1, 10)
	serialKey := s.p + "meta/serial"
	ops = append(ops, clientv3.OpPut(serialKey, next))
	done := func(r int64) {
		s.mu.Lock()
		s.kv["meta/serial"] = []byte(next)
		s.serialRev = r
		s.mu.Unlock()
	}
	deadline := time.Now().Add(s.writeBudget())
	var last error
	for {
		if reason := s.lostReason(); reason != nil {
			return errGone{reason}
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.tryTimeout())
		resp, err := s.cli.Txn(ctx).If(s.holds(), clientv3.Compare(clientv3.ModRevision(serialKey), "=", rev)).Then(ops...).Commit()
		cancel()
		if err == nil && resp.Succeeded {
			done(resp.Header.Revision)
			return nil
		}
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.tryTimeout())
			g, gerr := s.cli.Txn(ctx).Then(clientv3.OpGet(serialKey), clientv3.OpGet(s.lockKey)).Commit()
			cancel()
			if gerr == nil {
				sk, lk := g.Responses[0].GetResponseRange().Kvs, g.Responses[1].GetResponseRange().Kvs
				if len(lk) == 0 || clientv3.LeaseID(lk[0].Lease) != s.sess.Lease() {
					return errGone{fmt.Errorf("the state's lock was lost (its lease %s ended; another run may hold it now)", s.holder.ID)}
				}
				if len(sk) == 1 && string(sk[0].Value) == next {
					done(sk[0].ModRevision) // an earlier try landed
					return nil
				}
				got := ""
				if len(sk) == 1 {
					got = string(sk[0].Value)
				}
				return fmt.Errorf("the state in etcd (%s) was changed by another writer while this run held its lock (serial %s, expected %d): it was not written", s.Path(), got, base)
			}
			err = gerr
		}
		last = err
		if time.Now().After(deadline) {
			return errGone{fmt.Errorf("etcd did not take the write for %v: %v", s.writeBudget(), last)}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unsavedDoc is the unsaved file: the writes a run could not make.
type unsavedDoc struct {
	Prefix  string     `json:"prefix"`
	Lineage string     `json:"lineage"`
	Writes  []mutation `json:"writes"`
}

// keepUnsaved adds list to the unsaved file and returns the error the
// write's callers get.
func (s *Store) keepUnsaved(list []mutation, reason error) error {
	if s.unsaved == "" {
		return fmt.Errorf("the state could not be written to etcd: %w", reason)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := unsavedDoc{Prefix: s.p, Lineage: string(s.kv["meta/lineage"])}
	if b, err := os.ReadFile(s.unsaved); err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("the state could not be written to etcd (%v), and %s is unreadable: %w", reason, s.unsaved, err)
		}
	}
	doc.Writes = append(doc.Writes, list...)
	b, _ := json.Marshal(doc)
	if err := writeFileSync(s.unsaved, b); err != nil {
		return fmt.Errorf("the state could not be written to etcd (%v), nor kept in %s: %w", reason, s.unsaved, err)
	}
	return fmt.Errorf("the state could not be written to etcd: %w. The change is kept in %s; the next labform run writes it to etcd before anything else", reason, s.unsaved)
}

func (s *Store) readUnsaved() ([]mutation, error) {
	if s.unsaved == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.unsaved)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc unsavedDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s (writes an earlier run could not make to etcd) is unreadable: %w", s.unsaved, err)
	}
	if doc.Prefix != s.p {
		return nil, fmt.Errorf("%s holds writes for the etcd prefix %s, but the lab's state is under %s: point the lab back at it, or remove the file if those writes no longer matter", s.unsaved, doc.Prefix, s.p)
	}
	if lin := string(s.kv["meta/lineage"]); lin != "" && doc.Lineage != "" && lin != doc.Lineage {
		return nil, fmt.Errorf("%s holds writes for the state of lineage %s, but the state under %s has lineage %s: remove the file if those writes no longer matter", s.unsaved, doc.Lineage, s.p, lin)
	}
	return doc.Writes, nil
}

// writeFileSync replaces path with b through a synced temporary file and
// a rename: a crash leaves the old file or the new one, never half of
// the writes a run could not make.
func writeFileSync(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := state.WriteFileSync(tmp, b); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
