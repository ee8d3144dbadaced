package state

import (
	"slices"
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
