package state

import (
	"encoding/binary"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Backend is what the planner and the commands need of a state: the bbolt
// file of this package (*Store), the lab's own, or a shared one (etcd).
// Every implementation keeps the same model: a lineage, a serial that
// grows with every write, one record per instance, the intent journal and
// the outputs, and writes that are durable when they return.
type Backend interface {
	Meta() (Meta, error)
	SetLab(id, dir, name string) error
	Resources() (map[string]*Record, error)
	Get(address string) (*Record, error)
	Put(recs ...*Record) error
	Delete(addrs ...string) error
	// Rename relabels records, and rewrites the records that name them,
	// in one transaction (see Renamed).
	Rename(pairs []Rename, rewrite func(*Record) (bool, error)) error
	BeginMany(ins []*Intent) ([]uint64, error)
	SettleAsync(seq uint64, rec *Record, del string) <-chan error
	Journal() ([]*Intent, error)
	CloseIntents(seqs ...uint64) error
	SetOutputs(outs map[string]*Output) error
	Outputs() (map[string]*Output, error)
	Replace(lineage string, recs []*Record, outs map[string]*Output) error
	// Backup keeps a copy of the state and the newest keep copies; a
	// backend that keeps its backups itself (etcd, under its prefix)
	// ignores dir.
	Backup(dir string, keep int) (string, error)
	// Import replaces everything, the lineage and the serial included,
	// with snap (state migration).
	Import(snap *Content) error
	// Path names the state for people: a file, or an etcd prefix.
	Path() string
	// Describe identifies the state a saved plan was made against: the
	// kind of backend and where it is.
	Describe() string
	// Shared says that several lab directories (checkouts) share this
	// state: the lab's identity comes from it, not from the directory.
	Shared() bool
	Close() error
}

var _ Backend = (*Store)(nil)

// Content is the whole content of a state, as Export reads it and
// Import writes it.
type Content struct {
	Meta      Meta
	Resources []*Record // sorted by address
	Journal   []*Intent // oldest first
	Outputs   map[string]*Output
	// NextIntent is the journal's counter (the last sequence number given).
	NextIntent uint64
}

// Export reads the whole content of b.
func Export(b Backend) (*Content, error) {
	m, err := b.Meta()
	if err != nil {
		return nil, err
	}
	recs, err := b.Resources()
	if err != nil {
		return nil, err
	}
	j, err := b.Journal()
	if err != nil {
		return nil, err
	}
	outs, err := b.Outputs()
	if err != nil {
		return nil, err
	}
	s := &Content{Meta: m, Journal: j, Outputs: outs}
	for _, r := range recs {
		s.Resources = append(s.Resources, r)
	}
	sort.Slice(s.Resources, func(i, k int) bool { return s.Resources[i].Addr < s.Resources[k].Addr })
	if n, ok := b.(interface{ NextIntent() (uint64, error) }); ok {
		if s.NextIntent, err = n.NextIntent(); err != nil {
			return nil, err
		}
	}
	for _, in := range j {
		if in.Seq > s.NextIntent {
			s.NextIntent = in.Seq
		}
	}
	return s, nil
}

// Describe is "local" for a state file: a saved plan names its lab
// directory, whose state file it is.
func (s *Store) Describe() string { return "local" }

// Shared is false: a state file belongs to one lab directory.
func (s *Store) Shared() bool { return false }

// NextIntent is the journal's counter.
func (s *Store) NextIntent() (uint64, error) {
	var n uint64
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyNextSeq); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n, err
}

// Import replaces the whole content with snap in one transaction: the
// lineage, the lab's identity, every record, intent and output, and the
// serial (the transaction's own bump lands on snap's serial).
func (s *Store) Import(snap *Content) error { return s.run(ImportWrite(snap)) }
