package state

import (
	"bytes"
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
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
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
	keyLabID   = []byte("lab_id")
	keyLabDir  = []byte("lab_dir")
	keyLabName = []byte("lab_name")
)

// ErrLocked is returned (wrapped, with the holder) when another process
// holds the state.
var ErrLocked = errors.New("the state is locked by another labform run")

// Record is one resource instance as stored.
type Record struct {
	Addr     string   `json:"-"`
	Type     string   `json:"type"`
	Provider string   `json:"provider"`
	ID       string   `json:"id,omitempty"`      // the object's ID on the host (providers/identity.go)
	Value    []byte   `json:"value"`             // cty msgpack of the schema's type
	Private  []byte   `json:"private,omitempty"` // the provider's own data
	Deps     []string `json:"deps,omitempty"`    // addresses it depended on when written
	// Sensitive lists attribute paths to hide, as "a.b[0]" strings.
	Sensitive []string `json:"sensitive,omitempty"`
	// Tainted, when set, says why the object cannot be trusted (its
	// ready block timed out after its create): the next plan replaces it.
	Tainted string `json:"tainted,omitempty"`
}

// Intent is an action recorded before it runs.
// JournalAction is what an intent is about to do. A recovery reads it to
// decide where to look for what an interrupted action left: the object a
// create may have made, the old object a delete-deposed may have left.
// The values are written to the journal, so they never change.
type JournalAction string

const (
	JournalCreate JournalAction = "create"
	JournalUpdate JournalAction = "update"
	JournalDelete JournalAction = "delete"
	// DeleteDeposed removes the old object of a create_before_destroy once
	// the new one exists. Its intent carries the old object's private data
	// and value, which no record holds once the new object is written.
	DeleteDeposed JournalAction = "delete-deposed"
)

type Intent struct {
	Seq      uint64        `json:"-"`
	Addr     string        `json:"addr"`
	Action   JournalAction `json:"action"`
	Type     string        `json:"type"`
	Provider string        `json:"provider"`
	// ID is the ID of the object the action makes or removes, recorded
	// before it runs so that what an interrupted action left is found.
	ID      string `json:"id,omitempty"`
	Planned []byte `json:"planned,omitempty"` // cty msgpack, may hold unknowns
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
	// LabID is the lab's identity on the host and LabDir where it was
	// last applied from; both empty until the first apply.
	LabID, LabDir, LabName string
}

// Options for Open.
type Options struct {
	// LockTimeout is how long to wait for another run's lock; 0 fails at
	// once (after a short grace).
	LockTimeout time.Duration
	// Command describes this run for others who find the state locked.
	Command string
	// ReadOnly reads a consistent snapshot of the file without taking the
	// lock or writing anything (Terraform's -lock=false, and what the
	// commands that only read use): it works on a read-only file or
	// directory and while another run holds the lock. Writes fail. A
	// missing file reads as an empty state without a lineage.
	ReadOnly bool
}

// Store is an open state file. Its methods are safe for concurrent use.
type Store struct {
	db       *bolt.DB
	path     string
	lockInfo string
	readOnly bool
	lineage  string // as read at Open, to name backups when damage shows later
	ops      chan *Op[*wtx]
	done     chan struct{}

	mu     sync.Mutex
	broken error // set once bbolt has panicked on this file: no more writes

	closeOnce sync.Once
	closeErr  error
}

// LockHolder is what the lock-info file says about the holder.
type LockHolder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
}

// Close stops the writer and releases the lock.
// A second Close does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.readOnly {
			s.closeErr = s.db.Close()
			return
		}
		close(s.ops)
		<-s.done
		os.Remove(s.lockInfo)
		s.closeErr = guard(s.db.Close)
	})
	return s.closeErr
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// writer commits queued writes in groups: one transaction (one fsync) for
// everything that arrived while the last one was being written.
func (s *Store) writer() {
	defer close(s.done)
	for first := range s.ops {
		batch := Gather(first, s.ops, 4096)
		err := s.brokenErr()
		if err == nil {
			err = s.guardDamage(func() error {
				return s.db.Update(func(tx *bolt.Tx) error {
					w := beginSum(tx)
					for _, o := range batch {
						if err := o.Fn(w); err != nil {
							return err
						}
					}
					if err := bumpSerial(w); err != nil {
						return err
					}
					return w.commitSum()
				})
			})
		}
		for _, o := range batch {
			o.Err <- err
		}
	}
}

// write runs fn in a (grouped) read-write transaction and returns once it
// is durable.
func (s *Store) write(fn func(w *wtx) error) error {
	return <-s.writeAsync(fn)
}

// run commits a write made by one of the shared constructors (writes.go).
func (s *Store) run(wr Write, err error) error { return <-QueueWrite(s.ops, s.readOnly, wr, err) }

// writeAsync queues fn; the channel yields the commit's result.
func (s *Store) writeAsync(fn func(w *wtx) error) <-chan error { return Queue(s.ops, s.readOnly, fn) }

func (s *Store) brokenErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

func bumpSerial(w *wtx) error {
	return w.put(bucketMeta, keySerial, u64(binary.BigEndian.Uint64(w.Bucket(bucketMeta).Get(keySerial))+1))
}

// Meta returns the lineage and serial.
func (s *Store) Meta() (Meta, error) {
	var m Meta
	err := s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		m.Lineage = string(meta.Get(keyLineage))
		m.Serial = binary.BigEndian.Uint64(meta.Get(keySerial))
		m.LabID = string(meta.Get(keyLabID))
		m.LabDir = string(meta.Get(keyLabDir))
		m.LabName = string(meta.Get(keyLabName))
		return nil
	})
	return m, err
}

// SetLab records the lab's ID, the directory it is applied from and the
// name its host objects live under.
func (s *Store) SetLab(id, dir, name string) error {
	return s.run(SetLabWrite(id, dir, name), nil)
}

// Resources returns every record, keyed by address. The records are
// copies; changing them changes nothing stored.
func (s *Store) Resources() (map[string]*Record, error) {
	out := map[string]*Record{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketResources).ForEach(func(k, v []byte) error {
			r, err := DecodeRecord(string(k), v)
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
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketResources).Get([]byte(address))
		if v == nil {
			return nil
		}
		var err error
		r, err = DecodeRecord(address, v)
		return err
	})
	return r, err
}

// Put writes records (a refresh's findings, state mv/push).
func (s *Store) Put(recs ...*Record) error { return s.run(PutWrite(recs)) }

// Delete removes records.
func (s *Store) Delete(addrs ...string) error { return s.run(DeleteWrite(addrs), nil) }

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
	wr, seqs, err := BeginWrite(ins)
	if err := s.run(wr, err); err != nil {
		return nil, err
	}
	SetSeqs(ins, seqs)
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
	wr, err := SettleWrite(seq, rec, del)
	return QueueWrite(s.ops, s.readOnly, wr, err)
}

// Journal returns the open intents, oldest first.
func (s *Store) Journal() ([]*Intent, error) {
	var out []*Intent
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJournal).ForEach(func(k, v []byte) error {
			in, err := DecodeIntent(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, in)
			return nil
		})
	})
	return out, err
}

// CloseIntents removes intents that recovery has dealt with.
func (s *Store) CloseIntents(seqs ...uint64) error { return s.run(CloseIntentsWrite(seqs), nil) }

// SetOutputs replaces the outputs.
func (s *Store) SetOutputs(outs map[string]*Output) error {
	enc, err := EncodeOutputs(outs)
	if err != nil {
		return err
	}
	same := false
	if err := s.view(func(tx *bolt.Tx) error {
		n := 0
		same = tx.Bucket(bucketOutputs).ForEach(func(k, v []byte) error {
			if n++; !bytes.Equal(enc[string(k)], v) {
				return errDiffers
			}
			return nil
		}) == nil && n == len(enc)
		return nil
	}); err != nil {
		return err
	}
	if same {
		// Unchanged: no write, and no new serial, so that an apply that
		// changed nothing leaves the state (and its backup) as it was.
		return nil
	}
	return s.run(OutputsWrite(enc), nil)
}

var errDiffers = errors.New("differs")

// Outputs returns the stored outputs.
func (s *Store) Outputs() (map[string]*Output, error) {
	out := map[string]*Output{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutputs).ForEach(func(k, v []byte) error {
			o, err := DecodeOutput(string(k), v)
			if err != nil {
				return err
			}
			out[string(k)] = o
			return nil
		})
	})
	return out, err
}

// Backup copies the state file into dir as state-<serial>-<time>-<sum>.db
// (sum: the start of the content sum) and keeps the newest keep backups.
// When the newest backup already holds this content (an apply that
// changed nothing, run again), nothing is copied and its path is
// returned: the backups kept are keep different states.
func (s *Store) Backup(dir string, keep int) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	m, err := s.Meta()
	if err != nil {
		return "", err
	}
	var tag string
	if err := s.view(func(tx *bolt.Tx) error {
		tag = hex.EncodeToString(tx.Bucket(bucketMeta).Get(keySum))
		return nil
	}); err != nil {
		return "", err
	}
	if len(tag) > 12 {
		tag = tag[:12]
	}
	backups := backupNames(dir)
	if n := len(backups); n > 0 && tag != "" {
		// The newest backup has this very content (every write raises the
		// serial, and the sum covers it): another copy would only push an
		// older, different state out of the kept ones.
		if serial, ok := parseBackupSerial(backups[n-1]); ok && serial == m.Serial && strings.HasSuffix(backups[n-1], "-"+tag+".db") {
			return filepath.Join(dir, backups[n-1]), nil
		}
	}
	name := fmt.Sprintf("state-%08d-%s", m.Serial, time.Now().UTC().Format("20060102T150405.000"))
	if tag != "" {
		name += "-" + tag
	}
	path := filepath.Join(dir, name+".db")
	if err := s.view(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) }); err != nil {
		return "", err
	}
	backups = append(backups, name+".db")
	for len(backups) > keep {
		os.Remove(filepath.Join(dir, backups[0]))
		backups = backups[1:]
	}
	return path, nil
}

// backupNames lists the backups in dir, oldest first.
func backupNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var backups []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "state-") && strings.HasSuffix(e.Name(), ".db") {
			backups = append(backups, e.Name())
		}
	}
	sort.Strings(backups)
	return backups
}

// Replace swaps the whole content for the given records and outputs (state
// push) in one transaction, keeping the lineage unless lineage is set.
func (s *Store) Replace(lineage string, recs []*Record, outs map[string]*Output) error {
	return s.run(ReplaceWrite(lineage, recs, outs))
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
