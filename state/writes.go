package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"
)

// Writes is one write transaction of a backend, in the state's own
// layout: records by address, intents by sequence number, outputs by name
// and the meta fields. The writes every backend makes (Put, Settle,
// Replace, Import...) are written once against it, below, so that the
// bbolt file and etcd store the same content in the same order; a backend
// supplies only its transaction and how it spells keys.
//
// A method's error aborts the whole transaction, as a bbolt Update's does.
type Writes interface {
	PutRecord(address string, enc []byte) error
	DeleteRecord(address string) error
	PutIntent(seq uint64, enc []byte) error
	DeleteIntent(seq uint64) error
	PutOutput(name string, enc []byte) error
	// Clear empties one of the state's parts (records, journal or
	// outputs); the meta fields are not one.
	Clear(p Part) error
	SetMeta(f MetaField, v string) error
	// NextIntent is the journal's counter, as this transaction sees it.
	NextIntent() uint64
	SetNextIntent(n uint64) error
	// SetSerialBase makes the serial that this transaction commits n+1
	// (every commit adds one).
	SetSerialBase(n uint64) error
}

// Part is one of the state's collections, as Writes.Clear names it.
type Part string

const (
	PartRecords Part = "resources"
	PartJournal Part = "journal"
	PartOutputs Part = "outputs"
)

// MetaField is a string field of the state's meta, by the key both
// backends store it under.
type MetaField string

const (
	MetaLineage MetaField = "lineage"
	MetaLabID   MetaField = "lab_id"
	MetaLabDir  MetaField = "lab_dir"
	MetaLabName MetaField = "lab_name"
)

// A Write is one change of the state, run inside a backend's transaction.
// Its values are marshalled when it is made, before the transaction: the
// writer that groups commits then holds the transaction only for the
// writes themselves, and a value that does not marshal fails its caller
// alone, not the group.
type Write func(Writes) error

// EncodeAll marshals each element of list as JSON, in order.
func EncodeAll[T any](list []T) ([][]byte, error) {
	out := make([][]byte, len(list))
	for i, x := range list {
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// EncodeOutputs marshals outputs, by name, for OutputsWrite (a backend
// may compare them with what it holds first, and write nothing when they
// are the same).
func EncodeOutputs(outs map[string]*Output) (map[string][]byte, error) {
	names := slices.Sorted(maps.Keys(outs))
	list := make([]*Output, len(names))
	for i, n := range names {
		list[i] = outs[n]
	}
	enc, err := EncodeAll(list)
	if err != nil {
		return nil, err
	}
	m := make(map[string][]byte, len(names))
	for i, n := range names {
		m[n] = enc[i]
	}
	return m, nil
}

// putOutputs writes encoded outputs in name order: etcd keeps a failed
// write's mutations in a file, which stays the same from run to run.
func putOutputs(w Writes, enc map[string][]byte) error {
	for _, k := range slices.Sorted(maps.Keys(enc)) {
		if err := w.PutOutput(k, enc[k]); err != nil {
			return err
		}
	}
	return nil
}

func putRecords(w Writes, recs []*Record, enc [][]byte) error {
	for i, r := range recs {
		if err := w.PutRecord(r.Addr, enc[i]); err != nil {
			return err
		}
	}
	return nil
}

// PutWrite writes records (a refresh's findings, state mv/push).
func PutWrite(recs []*Record) (Write, error) {
	enc, err := EncodeAll(recs)
	if err != nil {
		return nil, err
	}
	return func(w Writes) error { return putRecords(w, recs, enc) }, nil
}

// DeleteWrite removes records.
func DeleteWrite(addrs []string) Write {
	return func(w Writes) error { return each(addrs, w.DeleteRecord) }
}

// each calls fn on every element of list, up to the first error.
func each[T any](list []T, fn func(T) error) error {
	for _, x := range list {
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

// RenameWrite writes what Renamed computed: the deletes first, then the
// records under their new or same addresses.
func RenameWrite(put []*Record, del []string) (Write, error) {
	enc, err := EncodeAll(put)
	if err != nil {
		return nil, err
	}
	return func(w Writes) error {
		if err := DeleteWrite(del)(w); err != nil {
			return err
		}
		return putRecords(w, put, enc)
	}, nil
}

// SetLabWrite records the lab's ID, the directory it is applied from and
// the name its host objects live under.
func SetLabWrite(id, dir, name string) Write {
	return func(w Writes) error {
		for _, f := range []struct {
			f MetaField
			v string
		}{{MetaLabID, id}, {MetaLabName, name}, {MetaLabDir, dir}} {
			if err := w.SetMeta(f.f, f.v); err != nil {
				return err
			}
		}
		return nil
	}
}

// BeginWrite records intents under the next sequence numbers of the
// journal's counter. The numbers are in seqs, and in each Intent's Seq,
// once the write has committed; an intent without a start time gets now.
func BeginWrite(ins []*Intent) (wr Write, seqs []uint64, err error) {
	now := time.Now().UTC()
	for _, in := range ins {
		if in.Started.IsZero() {
			in.Started = now
		}
	}
	enc, err := EncodeAll(ins)
	if err != nil {
		return nil, nil, err
	}
	seqs = make([]uint64, len(ins))
	return func(w Writes) error {
		seq := w.NextIntent()
		for i := range ins {
			seq++
			seqs[i] = seq
			if err := w.PutIntent(seq, enc[i]); err != nil {
				return err
			}
		}
		return w.SetNextIntent(seq)
	}, seqs, nil
}

// SetSeqs gives each intent the sequence number BeginWrite gave it, once
// its write has committed.
func SetSeqs(ins []*Intent, seqs []uint64) {
	for i, in := range ins {
		in.Seq = seqs[i]
	}
}

// SettleWrite closes intent seq and, in the same transaction, writes rec
// (the action's result) or, when rec is nil, deletes the record at del.
func SettleWrite(seq uint64, rec *Record, del string) (Write, error) {
	var enc []byte
	if rec != nil {
		var err error
		if enc, err = json.Marshal(rec); err != nil {
			return nil, err
		}
	}
	return func(w Writes) error {
		if err := w.DeleteIntent(seq); err != nil {
			return err
		}
		if rec != nil {
			return w.PutRecord(rec.Addr, enc)
		}
		if del != "" {
			return w.DeleteRecord(del)
		}
		return nil
	}, nil
}

// CloseIntentsWrite removes intents that recovery has dealt with.
func CloseIntentsWrite(seqs []uint64) Write {
	return func(w Writes) error { return each(seqs, w.DeleteIntent) }
}

// OutputsWrite replaces the outputs. enc is the outputs as
// EncodeOutputs gives them.
func OutputsWrite(enc map[string][]byte) Write {
	return func(w Writes) error {
		if err := w.Clear(PartOutputs); err != nil {
			return err
		}
		return putOutputs(w, enc)
	}
}

// ReplaceWrite swaps the records and outputs for the given ones (state
// push), keeping the lineage unless lineage is set.
func ReplaceWrite(lineage string, recs []*Record, outs map[string]*Output) (Write, error) {
	enc, err := EncodeAll(recs)
	if err != nil {
		return nil, err
	}
	encOut, err := EncodeOutputs(outs)
	if err != nil {
		return nil, err
	}
	return func(w Writes) error {
		if err := each([]Part{PartRecords, PartOutputs}, w.Clear); err != nil {
			return err
		}
		if err := putRecords(w, recs, enc); err != nil {
			return err
		}
		if err := putOutputs(w, encOut); err != nil {
			return err
		}
		if lineage != "" {
			return w.SetMeta(MetaLineage, lineage)
		}
		return nil
	}, nil
}

// ImportWrite replaces everything with c: the lineage, the lab's
// identity, every record, intent and output, and the serial (the commit's
// own bump lands on c's serial).
func ImportWrite(c *Content) (Write, error) {
	if c.Meta.Lineage == "" {
		return nil, fmt.Errorf("the state to import has no lineage")
	}
	recs, err := EncodeAll(c.Resources)
	if err != nil {
		return nil, err
	}
	ins, err := EncodeAll(c.Journal)
	if err != nil {
		return nil, err
	}
	encOut, err := EncodeOutputs(c.Outputs)
	if err != nil {
		return nil, err
	}
	return func(w Writes) error {
		if err := each([]Part{PartRecords, PartJournal, PartOutputs}, w.Clear); err != nil {
			return err
		}
		if err := putRecords(w, c.Resources, recs); err != nil {
			return err
		}
		for i, in := range c.Journal {
			if err := w.PutIntent(in.Seq, ins[i]); err != nil {
				return err
			}
		}
		if err := putOutputs(w, encOut); err != nil {
			return err
		}
		if err := w.SetMeta(MetaLineage, c.Meta.Lineage); err != nil {
			return err
		}
		if err := SetLabWrite(c.Meta.LabID, c.Meta.LabDir, c.Meta.LabName)(w); err != nil {
			return err
		}
		if err := w.SetNextIntent(c.NextIntent); err != nil {
			return err
		}
		serial := c.Meta.Serial
		if serial > 0 {
			serial-- // the commit adds one
		}
		return w.SetSerialBase(serial)
	}, nil
}

// DecodeRecord reads the record stored at address.
func DecodeRecord(address string, v []byte) (*Record, error) {
	r := &Record{Addr: address}
	if err := json.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("state record %s is corrupt: %w", address, err)
	}
	return r, nil
}

// DecodeIntent reads the journal entry of sequence number seq.
func DecodeIntent(seq uint64, v []byte) (*Intent, error) {
	in := &Intent{Seq: seq}
	if err := json.Unmarshal(v, in); err != nil {
		return nil, fmt.Errorf("state journal entry %d is corrupt: %w", seq, err)
	}
	return in, nil
}

// DecodeOutput reads the output stored under name.
func DecodeOutput(name string, v []byte) (*Output, error) {
	o := &Output{}
	if err := json.Unmarshal(v, o); err != nil {
		return nil, fmt.Errorf("output %s is corrupt: %w", name, err)
	}
	return o, nil
}

// Op is one write queued for a backend's writer: Fn runs inside the
// transaction of its group, and Err yields the group's result once it is
// durable (or failed: one Fn's error fails its whole group).
type Op[T any] struct {
	Fn  func(T) error
	Err chan error
}

// Queue queues fn for the writer that reads ops; the channel yields the
// commit's result. A state opened read-only fails it at once with
// ErrReadOnly.
func Queue[T any](ops chan<- *Op[T], readOnly bool, fn func(T) error) <-chan error {
	if readOnly {
		return Failed(ErrReadOnly)
	}
	o := &Op[T]{Fn: fn, Err: make(chan error, 1)}
	ops <- o
	return o.Err
}

// QueueWrite queues a write of this package's on a backend whose
// transaction type is T. A write that could not be made (err: a value
// that does not marshal) fails at once, without reaching the writer.
func QueueWrite[T Writes](ops chan<- *Op[T], readOnly bool, wr Write, err error) <-chan error {
	if err != nil {
		return Failed(err)
	}
	return Queue(ops, readOnly, func(t T) error { return wr(t) })
}

// Failed is the result channel of a write that failed before it was
// queued.
func Failed(err error) <-chan error {
	ch := make(chan error, 1)
	ch <- err
	return ch
}

// ErrReadOnly is every write's error on a state opened without its lock.
var ErrReadOnly = errors.New("the state was opened read-only (-lock=false); this command writes it")

// Gather returns first and whatever else is queued on ops right now, up
// to max: the group a backend's writer commits in one transaction (one
// fsync, one etcd Txn) for everything that arrived while the last one was
// being written.
func Gather[T any](first T, ops <-chan T, max int) []T {
	batch := []T{first}
	for len(batch) < max {
		select {
		case o, ok := <-ops:
			if !ok {
				return batch
			}
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// WriteFileSync writes b to path (mode 0600) and returns once it is on
// disk (fsync): what a caller does next may rely on the file being there
// after a crash.
func WriteFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
