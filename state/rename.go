package state

import (
	"encoding/json"
	"fmt"
)

// Rename gives the record at From the address To.
type Rename struct {
	From, To string
}

// Rename relabels records in one transaction: all or none. It fails when
// a source is missing or a destination holds a record that is not itself
// moved away. The records keep their object IDs, so the objects on the
// host are the same (state mv, moved blocks). rewrite, when not nil, is
// given every record after the relabeling and reports whether it changed
// it (the values and dependencies of other records that name a moved
// address); the changed ones are written in the same transaction.
func (s *Store) Rename(pairs []Rename, rewrite func(*Record) (bool, error)) error {
	return s.write(func(w *wtx) error {
		b := w.Bucket(bucketResources)
		recs := map[string]*Record{}
		if err := b.ForEach(func(k, v []byte) error {
			r, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			recs[r.Addr] = r
			return nil
		}); err != nil {
			return err
		}
		leaving := map[string]bool{}
		for _, p := range pairs {
			leaving[p.From] = true
		}
		moved := map[string]*Record{}
		for _, p := range pairs {
			r := recs[p.From]
			if r == nil {
				return fmt.Errorf("no record at %s to move to %s", p.From, p.To)
			}
			if recs[p.To] != nil && !leaving[p.To] {
				return fmt.Errorf("cannot move %s to %s: a record is there already", p.From, p.To)
			}
			if moved[p.To] != nil {
				return fmt.Errorf("cannot move %s to %s: another record moves there", p.From, p.To)
			}
			r.Addr = p.To
			moved[p.To] = r
		}
		changed := map[string]*Record{}
		for _, p := range pairs {
			if err := w.del(bucketResources, []byte(p.From)); err != nil {
				return err
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
					return fmt.Errorf("%s: %w", a, err)
				}
				if ok {
					changed[a] = r
				}
			}
		}
		for a, r := range changed {
			enc, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := w.put(bucketResources, []byte(a), enc); err != nil {
				return err
			}
		}
		return nil
	})
}
