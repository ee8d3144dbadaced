package state

import (
	"fmt"
)

// Rename gives the record at From the address To.
type Rename struct {
	From, To string
}

// Renamed computes what a rename writes, on recs (the state's records by
// address, changed in place): the records to write under their new or
// same addresses, and the addresses to delete. It fails when a source is
// missing or a destination holds a record that is not itself moved away.
// rewrite, when not nil, is given every record after the relabeling and
// reports whether it changed it (the values and dependencies of other
// records that name a moved address). Every backend's Rename writes the
// result in one transaction.
func Renamed(recs map[string]*Record, pairs []Rename, rewrite func(*Record) (bool, error)) (put []*Record, del []string, err error) {
	leaving := map[string]bool{}
	for _, p := range pairs {
		leaving[p.From] = true
	}
	moved := map[string]*Record{}
	for _, p := range pairs {
		r := recs[p.From]
		if r == nil {
			return nil, nil, fmt.Errorf("no record at %s to move to %s", p.From, p.To)
		}
		if recs[p.To] != nil && !leaving[p.To] {
			return nil, nil, fmt.Errorf("cannot move %s to %s: a record is there already", p.From, p.To)
		}
		if moved[p.To] != nil {
			return nil, nil, fmt.Errorf("cannot move %s to %s: another record moves there", p.From, p.To)
		}
		r.Addr = p.To
		moved[p.To] = r
	}
	changed := map[string]*Record{}
	for _, p := range pairs {
		// A source that is also a destination (a→b, b→c; a re-index)
		// is overwritten, not deleted: one transaction never deletes
		// and writes the same key (etcd refuses that in one Txn).
		if moved[p.From] == nil {
			del = append(del, p.From)
		}
		delete(recs, p.From)
	}
	for a, r := range moved {
		recs[a] = r
		changed[a] = r
	}
	if rewrite != nil {
		for a, r := range recs {
			ok, err := rewrite(r)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", a, err)
			}
			if ok {
				changed[a] = r
			}
		}
	}
	for _, r := range changed {
		put = append(put, r)
	}
	return put, del, nil
}

// Rename relabels records in one transaction: all or none (see Renamed).
// The records keep their object IDs, so the objects on the host are the
// same (state mv, moved blocks).
func (s *Store) Rename(pairs []Rename, rewrite func(*Record) (bool, error)) error {
	return s.write(func(w *wtx) error {
		// Read inside the transaction, so that nothing written between
		// the read and the rename is lost.
		recs := map[string]*Record{}
		if err := w.Bucket(bucketResources).ForEach(func(k, v []byte) error {
			r, err := DecodeRecord(string(k), v)
			if err != nil {
				return err
			}
			recs[r.Addr] = r
			return nil
		}); err != nil {
			return err
		}
		put, del, err := Renamed(recs, pairs, rewrite)
		if err != nil {
			return err
		}
		wr, err := RenameWrite(put, del)
		if err != nil {
			return err
		}
		return wr(w)
	})
}
