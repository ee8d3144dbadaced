package state

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// callLog is a Writes that records each call as a line, so that a test
// reads what a Write does to any backend, in order. next is the journal's
// counter it starts with; failOn makes the call with that prefix fail.
type callLog struct {
	calls  []string
	next   uint64
	failOn string
}

var _ Writes = (*callLog)(nil)

func (c *callLog) log(format string, args ...any) error {
	line := fmt.Sprintf(format, args...)
	c.calls = append(c.calls, line)
	if c.failOn != "" && strings.HasPrefix(line, c.failOn) {
		return errors.New("refused")
	}
	return nil
}

func (c *callLog) PutRecord(a string, enc []byte) error { return c.log("put record %s %s", a, enc) }
func (c *callLog) DeleteRecord(a string) error          { return c.log("delete record %s", a) }
func (c *callLog) PutIntent(seq uint64, enc []byte) error {
	return c.log("put intent %d %s", seq, enc)
}
func (c *callLog) DeleteIntent(seq uint64) error { return c.log("delete intent %d", seq) }
func (c *callLog) PutOutput(n string, enc []byte) error {
	return c.log("put output %s %s", n, enc)
}
func (c *callLog) Clear(p Part) error                  { return c.log("clear %s", p) }
func (c *callLog) SetMeta(f MetaField, v string) error { return c.log("meta %s=%s", f, v) }
func (c *callLog) NextIntent() uint64                  { return c.next }
func (c *callLog) SetNextIntent(n uint64) error        { return c.log("next intent %d", n) }
func (c *callLog) SetSerialBase(n uint64) error        { return c.log("serial base %d", n) }

// TestWrites: what each shared write does, call by call. Both backends
// run these, so the order here is the order of their transactions
// (deletes before puts, outputs by name, the serial one below the
// imported one).
func TestWrites(t *testing.T) {
	rec := func(a string) *Record { return &Record{Addr: a, Type: "vm"} }
	out := func(v string) *Output { return &Output{Value: []byte(v)} }
	tests := map[string]struct {
		write func() (Write, error)
		next  uint64
		want  []string
	}{
		"put": {
			write: func() (Write, error) { return PutWrite([]*Record{rec("vm.a"), rec("vm.b")}) },
			want:  []string{`put record vm.a {"type":"vm","provider":"","value":null}`, `put record vm.b {"type":"vm","provider":"","value":null}`},
		},
		"settle a create": {
			write: func() (Write, error) { return SettleWrite(7, rec("vm.a"), "") },
			want:  []string{"delete intent 7", `put record vm.a {"type":"vm","provider":"","value":null}`},
		},
		"settle a delete": {
			write: func() (Write, error) { return SettleWrite(7, nil, "vm.a") },
			want:  []string{"delete intent 7", "delete record vm.a"},
		},
		"settle nothing done": {
			write: func() (Write, error) { return SettleWrite(7, nil, "") },
			want:  []string{"delete intent 7"},
		},
		"rename deletes first": {
			write: func() (Write, error) { return RenameWrite([]*Record{rec("vm.b")}, []string{"vm.a"}) },
			want:  []string{"delete record vm.a", `put record vm.b {"type":"vm","provider":"","value":null}`},
		},
		"outputs by name": {
			write: func() (Write, error) {
				enc, err := EncodeOutputs(map[string]*Output{"z": out("1"), "a": out("2")})
				return OutputsWrite(enc), err
			},
			want: []string{"clear outputs", `put output a {"value":2,"type":null}`, `put output z {"value":1,"type":null}`},
		},
		"replace keeps the lineage": {
			write: func() (Write, error) { return ReplaceWrite("", []*Record{rec("vm.a")}, nil) },
			want:  []string{"clear resources", "clear outputs", `put record vm.a {"type":"vm","provider":"","value":null}`},
		},
		"replace with a lineage": {
			write: func() (Write, error) { return ReplaceWrite("L", nil, nil) },
			want:  []string{"clear resources", "clear outputs", "meta lineage=L"},
		},
		"begin counts on from the journal's counter": {
			write: func() (Write, error) {
				wr, _, err := BeginWrite([]*Intent{{Addr: "vm.a", Action: JournalCreate}, {Addr: "vm.b", Action: JournalDelete}})
				return wr, err
			},
			next: 41,
			want: []string{"put intent 42", "put intent 43", "next intent 43"},
		},
		"import": {
			write: func() (Write, error) {
				return ImportWrite(&Content{Meta: Meta{Lineage: "L", Serial: 9, LabID: "id", LabDir: "/d", LabName: "n"}, NextIntent: 5,
					Resources: []*Record{rec("vm.a")}, Journal: []*Intent{{Seq: 5, Addr: "vm.a"}}})
			},
			want: []string{"clear resources", "clear journal", "clear outputs", `put record vm.a {"type":"vm","provider":"","value":null}`,
				"put intent 5", "meta lineage=L", "meta lab_id=id", "meta lab_name=n", "meta lab_dir=/d", "next intent 5", "serial base 8"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			wr, err := tc.write()
			if err != nil {
				t.Fatal(err)
			}
			c := &callLog{next: tc.next}
			if err := wr(c); err != nil {
				t.Fatal(err)
			}
			// An intent's JSON holds its start time: compare up to it.
			got := slices.Clone(c.calls)
			for i, l := range got {
				if strings.HasPrefix(l, "put intent ") {
					got[i] = strings.Join(strings.Fields(l)[:3], " ")
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("wrong calls\ngot:  %q\nwant: %q", got, tc.want)
			}
		})
	}
}

// TestWrites_firstErrorEndsTheWrite: a refused call ends the write there,
// so that the backend's transaction rolls back with nothing after it.
func TestWrites_firstErrorEndsTheWrite(t *testing.T) {
	wr, err := ReplaceWrite("L", []*Record{{Addr: "vm.a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &callLog{failOn: "clear outputs"}
	if err := wr(c); err == nil {
		t.Fatal("the write went on past a refused call")
	}
	if want := []string{"clear resources", "clear outputs"}; !slices.Equal(c.calls, want) {
		t.Errorf("wrong calls\ngot:  %q\nwant: %q", c.calls, want)
	}
}

// TestBeginWrite_seqs: the numbers a begin hands out are the ones it
// wrote, and SetSeqs gives them to the intents.
func TestBeginWrite_seqs(t *testing.T) {
	ins := []*Intent{{Addr: "vm.a"}, {Addr: "vm.b"}}
	wr, seqs, err := BeginWrite(ins)
	if err != nil {
		t.Fatal(err)
	}
	if err := wr(&callLog{next: 3}); err != nil {
		t.Fatal(err)
	}
	SetSeqs(ins, seqs)
	if !slices.Equal(seqs, []uint64{4, 5}) || ins[0].Seq != 4 || ins[1].Seq != 5 || ins[0].Started.IsZero() {
		t.Errorf("wrong seqs %v, intents %+v %+v", seqs, *ins[0], *ins[1])
	}
}

func TestImportWrite_noLineage(t *testing.T) {
	if _, err := ImportWrite(&Content{}); err == nil || !strings.Contains(err.Error(), "no lineage") {
		t.Errorf("an import without a lineage: %v", err)
	}
}
