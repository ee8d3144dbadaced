package state

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the layout of the buckets and records. Bump it, and add
// an upgrade step, when either changes.
const FormatVersion = 1

var (
	bucketMeta      = []byte("meta")
	bucketResources = []byte("resources")
	bucketJournal   = []byte("journal")
	bucketOutputs   = []byte("outputs")

	keyLineage = []byte("lineage")
	keySerial  = []byte("serial")
	keyFormat  = []byte("format_version")
	keyNextSeq = []byte("next_intent")
)

// ErrLocked is returned (wrapped, with the holder) when another process
// holds the state.
var ErrLocked = errors.New("the state is locked by another labform run")

// Record is one resource instance as stored.
type Record struct {
	Addr     string   `json:"-"`
	Type     string   `json:"type"`
	Provider string   `json:"provider"`
	Value    []byte   `json:"value"`             // cty msgpack of the schema's type
	Private  []byte   `json:"private,omitempty"` // the provider's own data
	Deps     []string `json:"deps,omitempty"`    // addresses it depended on when written
	// Sensitive lists attribute paths to hide, as "a.b[0]" strings.
	Sensitive []string `json:"sensitive,omitempty"`
}

// Intent is an action recorded before it runs.
type Intent struct {
	Seq      uint64 `json:"-"`
	Addr     string `json:"addr"`
	Action   string `json:"action"` // create, update, delete, delete-deposed
	Type     string `json:"type"`
	Provider string `json:"provider"`
	Planned  []byte `json:"planned,omitempty"` // cty msgpack, may hold unknowns
	// Private is the provider's data of the object a delete-deposed
	// intent removes: the old object of a create_before_destroy, which no
	// record holds any more once the new one is written.
	Private []byte    `json:"private,omitempty"`
	Started time.Time `json:"started"`
}

// Output is an output value as stored.
type Output struct {
	Value     json.RawMessage `json:"value"` // cty JSON
	Type      json.RawMessage `json:"type"`  // cty type JSON
	Sensitive bool            `json:"sensitive,omitempty"`
}

// Meta is the state's identity and version.
type Meta struct {
	Lineage string
	Serial  uint64
}

// Options for Open.
type Options struct {
	// LockTimeout is how long to wait for another run's lock; 0 fails at
	// once (after a short grace).
	LockTimeout time.Duration
	// Command describes this run for others who find the state locked.
	Command string
}

// Store is an open state file. Its methods are safe for concurrent use.
type Store struct {
	db       *bolt.DB
	path     string
	lockInfo string
	ops      chan *op
	done     chan struct{}
}

type op struct {
	fn  func(tx *bolt.Tx) error
	err chan error
}

// LockHolder is what the lock-info file says about the holder.
type LockHolder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
}

// Open opens (creating if needed) the state file at path and takes its lock.
func Open(path string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil { // holds lab values: owner only
		return nil, err
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = 50 * time.Millisecond // bbolt waits forever on 0
	}
	// NoFreelistSync: the freelist is rebuilt when the file is opened
	// instead of being written at every commit, which makes the many small
	// commits of an apply cheaper.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if errors.Is(err, berrors.ErrTimeout) {
		holder := "an unknown process"
		if b, rerr := os.ReadFile(path + ".lock-info"); rerr == nil {
			var h LockHolder
			if json.Unmarshal(b, &h) == nil {
				holder = fmt.Sprintf("pid %d on %s (%s), since %s", h.PID, h.Host, h.Command, h.Since.Format(time.RFC3339))
			}
		}
		return nil, fmt.Errorf("%w: %s holds %s. Wait for it to finish, or pass -lock-timeout=DURATION to wait", ErrLocked, holder, path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening state %s: %w", path, err)
	}
	s := &Store{db: db, path: path, lockInfo: path + ".lock-info", ops: make(chan *op, 1024), done: make(chan struct{})}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	host, _ := os.Hostname()
	info, _ := json.Marshal(LockHolder{PID: os.Getpid(), Command: opts.Command, Host: host, Since: time.Now().UTC()})
	_ = os.WriteFile(s.lockInfo, info, 0o600) // advisory: only improves the message
	go s.writer()
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketResources, bucketJournal, bucketOutputs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyFormat); v != nil {
			if got := binary.BigEndian.Uint64(v); got > FormatVersion {
				return fmt.Errorf("state %s has format %d; this labform reads up to %d: upgrade labform", s.path, got, FormatVersion)
			}
		} else if err := meta.Put(keyFormat, u64(FormatVersion)); err != nil {
			return err
		}
		if meta.Get(keyLineage) == nil {
			if err := meta.Put(keyLineage, []byte(newLineage())); err != nil {
				return err
			}
			return meta.Put(keySerial, u64(0))
		}
		return nil
	})
}

// Close stops the writer and releases the lock.
func (s *Store) Close() error {
	close(s.ops)
	<-s.done
	os.Remove(s.lockInfo)
	return s.db.Close()
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// writer commits queued writes in groups: one transaction (one fsync) for
// everything that arrived while the last one was being written.
func (s *Store) writer() {
	defer close(s.done)
	for first := range s.ops {
		batch := []*op{first}
	drain:
		for len(batch) < 4096 {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, o := range batch {
				if err := o.fn(tx); err != nil {
					return err
				}
			}
			return bumpSerial(tx)
		})
		for _, o := range batch {
			o.err <- err
		}
	}
}

// write runs fn in a (grouped) read-write transaction and returns once it
// is durable.
func (s *Store) write(fn func(tx *bolt.Tx) error) error {
	return <-s.writeAsync(fn)
}

// writeAsync queues fn; the channel yields the commit's result.
func (s *Store) writeAsync(fn func(tx *bolt.Tx) error) <-chan error {
	o := &op{fn: fn, err: make(chan error, 1)}
	s.ops <- o
	return o.err
}

func bumpSerial(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	return meta.Put(keySerial, u64(binary.BigEndian.Uint64(meta.Get(keySerial))+1))
}

// Meta returns the lineage and serial.
func (s *Store) Meta() (Meta, error) {
	var m Meta
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		m.Lineage = string(meta.Get(keyLineage))
		m.Serial = binary.BigEndian.Uint64(meta.Get(keySerial))
		return nil
	})
	return m, err
}

// Resources returns every record, keyed by address. The records are
// copies; changing them changes nothing stored.
func (s *Store) Resources() (map[string]*Record, error) {
	out := map[string]*Record{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketResources).ForEach(func(k, v []byte) error {
			r, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			out[r.Addr] = r
			return nil
		})
	})
	return out, err
}

// Get returns one record, or nil.
func (s *Store) Get(address string) (*Record, error) {
	var r *Record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketResources).Get([]byte(address))
		if v == nil {
			return nil
		}
		var err error
		r, err = decodeRecord([]byte(address), v)
		return err
	})
	return r, err
}

func decodeRecord(k, v []byte) (*Record, error) {
	r := &Record{Addr: string(k)}
	if err := json.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("state record %s is corrupt: %w", k, err)
	}
	return r, nil
}

// Put writes records (a refresh's findings, state mv/push).
func (s *Store) Put(recs ...*Record) error {
	encoded := make([][]byte, len(recs))
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		encoded[i] = b
	}
	return s.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResources)
		for i, r := range recs {
			if err := b.Put([]byte(r.Addr), encoded[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Delete removes records.
func (s *Store) Delete(addrs ...string) error {
	return s.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResources)
		for _, a := range addrs {
			if err := b.Delete([]byte(a)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Begin records an intent durably and returns its sequence number.
func (s *Store) Begin(in *Intent) (uint64, error) {
	seqs, err := s.BeginMany([]*Intent{in})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// BeginMany records intents durably in one transaction and returns their
// sequence numbers (also set in each Intent's Seq).
func (s *Store) BeginMany(ins []*Intent) ([]uint64, error) {
	now := time.Now().UTC()
	enc := make([][]byte, len(ins))
	for i, in := range ins {
		if in.Started.IsZero() {
			in.Started = now
		}
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		enc[i] = b
	}
	seqs := make([]uint64, len(ins))
	err := s.write(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var seq uint64
		if v := meta.Get(keyNextSeq); v != nil {
			seq = binary.BigEndian.Uint64(v)
		}
		j := tx.Bucket(bucketJournal)
		for i := range ins {
			seq++
			seqs[i] = seq
			if err := j.Put(u64(seq), enc[i]); err != nil {
				return err
			}
		}
		return meta.Put(keyNextSeq, u64(seq))
	})
	if err != nil {
		return nil, err
	}
	for i, in := range ins {
		in.Seq = seqs[i]
	}
	return seqs, nil
}

// Settle closes intent seq and, in the same transaction, writes rec (the
// action's result) or, when rec is nil, deletes the record at del. It
// returns once that is durable.
func (s *Store) Settle(seq uint64, rec *Record, del string) error {
	return <-s.SettleAsync(seq, rec, del)
}

// SettleAsync is Settle without the wait: the channel yields the commit's
// result. Until it lands the intent stays open, so a crash in between is
// recovered like a crash during the action itself; writes are committed in
// the order they were queued.
func (s *Store) SettleAsync(seq uint64, rec *Record, del string) <-chan error {
	var enc []byte
	if rec != nil {
		var err error
		if enc, err = json.Marshal(rec); err != nil {
			ch := make(chan error, 1)
			ch <- err
			return ch
		}
	}
	return s.writeAsync(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketJournal).Delete(u64(seq)); err != nil {
			return err
		}
		if rec != nil {
			return tx.Bucket(bucketResources).Put([]byte(rec.Addr), enc)
		}
		if del != "" {
			return tx.Bucket(bucketResources).Delete([]byte(del))
		}
		return nil
	})
}

// Journal returns the open intents, oldest first.
func (s *Store) Journal() ([]*Intent, error) {
	var out []*Intent
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
			in := &Intent{Seq: binary.BigEndian.Uint64(k)}
			if err := json.Unmarshal(v, in); err != nil {
				return fmt.Errorf("state journal entry %d is corrupt: %w", in.Seq, err)
			}
			out = append(out, in)
			return nil
		})
	})
	return out, err
}

// CloseIntents removes intents that recovery has dealt with.
func (s *Store) CloseIntents(seqs ...uint64) error {
	return s.write(func(tx *bolt.Tx) error {
		for _, seq := range seqs {
			if err := tx.Bucket(bucketJournal).Delete(u64(seq)); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetOutputs replaces the outputs.
func (s *Store) SetOutputs(outs map[string]*Output) error {
	enc := map[string][]byte{}
	for k, o := range outs {
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		enc[k] = b
	}
	return s.write(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketOutputs); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketOutputs)
		if err != nil {
			return err
		}
		for k, v := range enc {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Outputs returns the stored outputs.
func (s *Store) Outputs() (map[string]*Output, error) {
	out := map[string]*Output{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutputs).ForEach(func(k, v []byte) error {
			o := &Output{}
			if err := json.Unmarshal(v, o); err != nil {
				return err
			}
			out[string(k)] = o
			return nil
		})
	})
	return out, err
}

// Backup copies the state file into dir as state-<serial>-<time>.db and
// keeps the newest keep backups.
func (s *Store) Backup(dir string, keep int) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	m, err := s.Meta()
	if err != nil {
		return "", err
	}
	name := filepath.Join(dir, fmt.Sprintf("state-%08d-%s.db", m.Serial, time.Now().UTC().Format("20060102T150405.000")))
	if err := s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(name, 0o600) }); err != nil {
		return "", err
	}
	entries, _ := os.ReadDir(dir)
	var backups []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "state-") && strings.HasSuffix(e.Name(), ".db") {
			backups = append(backups, e.Name())
		}
	}
	sort.Strings(backups)
	for len(backups) > keep {
		os.Remove(filepath.Join(dir, backups[0]))
		backups = backups[1:]
	}
	return name, nil
}

// Replace swaps the whole content for the given records and outputs (state
// push) in one transaction, keeping the lineage unless lineage is set.
func (s *Store) Replace(lineage string, recs []*Record, outs map[string]*Output) error {
	enc := make([][]byte, len(recs))
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		enc[i] = b
	}
	encOut := map[string][]byte{}
	for k, o := range outs {
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		encOut[k] = b
	}
	return s.write(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketResources, bucketOutputs} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketResources)
		for i, r := range recs {
			if err := b.Put([]byte(r.Addr), enc[i]); err != nil {
				return err
			}
		}
		ob := tx.Bucket(bucketOutputs)
		for k, v := range encOut {
			if err := ob.Put([]byte(k), v); err != nil {
				return err
			}
		}
		if lineage != "" {
			return tx.Bucket(bucketMeta).Put(keyLineage, []byte(lineage))
		}
		return nil
	})
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func newLineage() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b[:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" + hex.EncodeToString(b[6:8]) + "-" +
		hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:])
}
