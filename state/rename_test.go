package state

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRenamed: a chain of moves deletes only the addresses nobody moves
// to, so a backend writes no key twice in its one transaction (etcd
// refuses a delete and a put of one key in a Txn).
func TestRenamed(t *testing.T) {
	cases := []struct {
		name     string
		pairs    []Rename
		wantDel  []string
		wantPuts []string
	}{
		{"rename", []Rename{{"a", "x"}}, []string{"a"}, []string{"x"}},
		{"chain", []Rename{{"a", "b"}, {"b", "c"}}, []string{"a"}, []string{"b", "c"}},
		{"swap", []Rename{{"a", "b"}, {"b", "a"}}, nil, []string{"a", "b"}},
		{"re-index", []Rename{{"p[0]", "p[1]"}, {"p[1]", "p[2]"}}, []string{"p[0]"}, []string{"p[1]", "p[2]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := map[string]*Record{}
			for _, a := range []string{"a", "b", "p[0]", "p[1]"} {
				recs[a] = &Record{Addr: a, ID: "id-" + a}
			}
			put, del, err := Renamed(recs, c.pairs, nil)
			if err != nil {
				t.Fatal(err)
			}
			var puts []string
			for _, r := range put {
				puts = append(puts, r.Addr)
			}
			slices.Sort(puts)
			slices.Sort(del)
			if !slices.Equal(del, c.wantDel) || !slices.Equal(puts, c.wantPuts) {
				t.Errorf("deletes %v, puts %v; want %v, %v", del, puts, c.wantDel, c.wantPuts)
			}
			for _, d := range del {
				if slices.Contains(puts, d) {
					t.Errorf("%s is deleted and written", d)
				}
			}
		})
	}
}

// TestStore_renameIsOneTransaction: a rename (state mv, moved blocks)
// relabels every pair and rewrites the records that name a moved address
// in one write: the serial rises by one. When any part fails (a missing
// source, a taken destination, a record the rewrite cannot read), nothing
// is written: every record and the serial are as before.
func TestStore_renameIsOneTransaction(t *testing.T) {
	names := map[string]string{"a": "x", "b": "y"}
	rewrite := func(fail string) func(*Record) (bool, error) {
		return func(r *Record) (bool, error) {
			if r.Addr == fail {
				return false, fmt.Errorf("cannot read %s", r.Addr)
			}
			changed := false
			for i, d := range r.Deps {
				if n, ok := names[d]; ok {
					r.Deps[i], changed = n, true
				}
			}
			return changed, nil
		}
	}
	for _, tc := range []struct {
		name    string
		pairs   []Rename
		fail    string // the record the rewrite fails on
		wantErr string
		want    map[string]string // address -> ID and deps, after
	}{
		{name: "two moves and a reference", pairs: []Rename{{"a", "x"}, {"b", "y"}},
			want: map[string]string{"x": "id-a []", "y": "id-b []", "c": "id-c [x y]"}},
		{name: "a missing source", pairs: []Rename{{"a", "x"}, {"nope", "z"}}, wantErr: "no record at nope"},
		{name: "a taken destination", pairs: []Rename{{"a", "x"}, {"b", "c"}}, wantErr: "a record is there already"},
		{name: "a record the rewrite cannot read", pairs: []Rename{{"a", "x"}, {"b", "y"}}, fail: "c", wantErr: "cannot read c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
			defer s.Close()
			if err := s.Put(&Record{Addr: "a", ID: "id-a"}, &Record{Addr: "b", ID: "id-b"},
				&Record{Addr: "c", ID: "id-c", Deps: []string{"a", "b"}}); err != nil {
				t.Fatal(err)
			}
			before, _ := s.Meta()
			err := s.Rename(tc.pairs, rewrite(tc.fail))
			after, _ := s.Meta()
			recs, rerr := s.Resources()
			if rerr != nil {
				t.Fatal(rerr)
			}
			got := map[string]string{}
			for a, r := range recs {
				got[a] = fmt.Sprintf("%s %v", r.ID, r.Deps)
			}
			want, serial := tc.want, before.Serial+1
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				want = map[string]string{"a": "id-a []", "b": "id-b []", "c": "id-c [a b]"}
				serial = before.Serial
			} else if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, want) {
				t.Errorf("records %v, want %v", got, want)
			}
			if after.Serial != serial {
				t.Errorf("serial %d -> %d, want %d: one write for the whole rename", before.Serial, after.Serial, serial)
			}
		})
	}
}
