package netfilter

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

// fakeRestore stands for iptables-restore: it reads its input line by
// line, as it comes, and fails naming line failAt (when not 0) the way
// iptables-restore does, without reading further; at the end of its
// input it fails unless the last line was COMMIT, and it stops reading
// once ctx is done (the tool killed).
type fakeRestore struct {
	failAt int
	save   error // what iptables-save fails with; nil: it prints an empty table

	mu       sync.Mutex
	runs     int // restores run
	lines    []string
	killed   bool
	commited bool
}

func (f *fakeRestore) run(ctx context.Context, ns string, stdin io.Reader, name string, args ...string) ([]byte, error) {
	argv := append([]string{name}, args...)
	if strings.HasSuffix(name, "-save") {
		if f.save != nil {
			return nil, f.save
		}
		return []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"), nil
	}
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		f.mu.Lock()
		f.lines = append(f.lines, sc.Text())
		n := len(f.lines)
		f.mu.Unlock()
		if n == f.failAt {
			return nil, &labnet.CommandError{Netns: ns, Argv: argv, Err: errors.New("exit status 2"),
				Stderr: fmt.Sprintf("iptables-restore v1.8.9 (nf_tables): Unknown ICMP type\nError occurred at line: %d", n)}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		f.killed = true
		return nil, &labnet.CommandError{Netns: ns, Argv: argv, Err: ctx.Err(), Interrupted: true}
	}
	if len(f.lines) == 0 || f.lines[len(f.lines)-1] != "COMMIT" {
		return nil, &labnet.CommandError{Netns: ns, Argv: argv, Err: errors.New("exit status 1"),
			Stderr: fmt.Sprintf("iptables-restore: COMMIT expected at line %d", len(f.lines)+1)}
	}
	f.commited = true
	return nil, nil
}

// TestRestoreChain_streamed: the input written while the rules are read
// is the one Restore renders, whole, with COMMIT last; what is returned
// for the next refresh covers every line of the chain.
func TestRestoreChain_streamed(t *testing.T) {
	for name, n := range map[string]int{"empty": 0, "one chunk": 3, "chunks": 3*chunkRules + 17} {
		t.Run(name, func(t *testing.T) {
			v := chainValue(n, nil)
			want, errs := ParseChain("big", v)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			c, errs := startChain("big", v)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			f := &fakeRestore{}
			p := New()
			p.run, p.maxUID = f.run, 65535
			live := jumpsTable(c, map[string]int{"FORWARD": 1})
			w, err := p.restoreChain(context.Background(), "ns", "iptables-restore", c, "ipv4", live, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(f.lines, "\n")+"\n", want.Restore("ipv4", 65535, live); got != want {
				t.Errorf("wrong input\ngot:\n%s\nwant:\n%s", got, want)
			}
			if !f.commited {
				t.Error("the input was not committed")
			}
			body, origin := want.body("ipv4", 65535)
			pred := <-w.predicted
			saved := pred.lines
			if len(saved) != len(body) || len(w.origin) != len(origin) {
				t.Fatalf("%d saved lines and %d origins for %d lines", len(saved), len(w.origin), len(body))
			}
			var a applied
			if err := json.Unmarshal(pred.encoded, &a); err != nil || len(a.Lines) != len(saved) || len(a.Origin) != len(origin) || a.Jumps["FORWARD"] != 1 || a.Jumps["INPUT"] != 0 {
				t.Errorf("the encoded prediction reads back as %+v, %v", a.Jumps, err)
			}
			for i := range body {
				if s, _ := savedForm(strings.TrimPrefix(body[i], "-A big "), "ipv4"); saved[i] != s || w.origin[i] != origin[i] {
					t.Errorf("line %d: got %q from %d, want %q from %d", i, saved[i], w.origin[i], s, origin[i])
				}
			}
		})
	}
}

// TestRestoreChain_failsMidStream: a restore that rejects a line while
// the input is still being written fails with that line quoted, taken
// from what was sent.
func TestRestoreChain_failsMidStream(t *testing.T) {
	const bad = 2500
	v := chainValue(4*chunkRules*4, func(i int, r map[string]cty.Value) {
		if i == bad {
			r["protocol"], r["dport"], r["icmp_type"] = cty.StringVal("icmp"), cty.NullVal(cty.String), cty.StringVal("not-a-type")
		}
	})
	c, errs := startChain("big", v)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	input := strings.Split(c.Restore("ipv4", 65535, nil), "\n")
	line := 0
	for i, l := range input {
		if strings.Contains(l, "not-a-type") {
			line = i + 1
		}
	}
	f := &fakeRestore{failAt: line}
	p := New()
	p.run, p.maxUID = f.run, 65535
	_, err := p.restoreChain(context.Background(), "ns", "iptables-restore", c, "ipv4", nil, nil)
	want := fmt.Sprintf("line %d of the input: -A big -p icmp --icmp-type not-a-type -j ACCEPT", line)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Unknown ICMP type") {
		t.Fatalf("wrong error\ngot:  %v\nwant: ...%s", err, want)
	}
	if f.commited {
		t.Error("a failed restore committed")
	}
}

// TestApply_invalidRuleMidStream: a rule block that fails its checks
// after the restore has started (apply reads rules while it writes them)
// stops the restore before COMMIT: the tool is killed, and apply reports
// the rule's own error, as one that did nothing.
func TestApply_invalidRuleMidStream(t *testing.T) {
	const bad = 3*chunkRules + 5
	v := chainValue(8*chunkRules, func(i int, r map[string]cty.Value) {
		if i == bad {
			r["dport"] = cty.StringVal("0")
		}
	})
	c, errs := startChain("big", v)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	f := &fakeRestore{}
	p := New()
	p.run, p.maxUID = f.run, 65535
	_, _, err := p.applyFamily(context.Background(), "ns", c, "ipv4", "iptables-save", "iptables-restore", map[string]int{"FORWARD": 1}, nil)
	var ae *providers.AttrError
	if !errors.Is(err, providers.ErrNothingDone) || !errors.As(err, &ae) {
		t.Fatalf("got %v, want the rule's error, as nothing done", err)
	}
	if want := cty.GetAttrPath("rule").Index(cty.NumberIntVal(bad)).GetAttr("dport"); !ae.Path.Equals(want) || ae.Summary != "Invalid port" {
		t.Errorf("got %q at %#v, want Invalid port at rule[%d].dport", ae.Summary, ae.Path, bad)
	}
	if f.commited || !f.killed {
		t.Errorf("the restore was committed (%v) or not killed (%v)", f.commited, !f.killed)
	}
	for _, l := range f.lines {
		if strings.Contains(l, fmt.Sprint(20000+bad)) {
			t.Errorf("the invalid rule reached the restore: %s", l)
		}
	}
}

// TestApplyFamily_earlyRestore: the restore apply starts before it knows
// its input is the one that gets it, whether the input comes from the
// counted jumps or from the table read meanwhile; when the table cannot
// be read, it is killed having read nothing.
func TestApplyFamily_earlyRestore(t *testing.T) {
	for name, tc := range map[string]struct {
		jumps  map[string]int
		save   error
		runs   int
		commit bool
	}{
		"jumps counted":    {jumps: map[string]int{"FORWARD": 1}, runs: 1, commit: true},
		"table read":       {runs: 1, commit: true},
		"table unreadable": {save: errors.New("iptables-save: exit status 1"), runs: 1},
	} {
		t.Run(name, func(t *testing.T) {
			c, errs := startChain("big", chainValue(2*chunkRules, nil))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			f := &fakeRestore{save: tc.save}
			p := New()
			p.run, p.maxUID = f.run, 65535
			early, err := p.startRestore(context.Background(), "ns", "iptables-restore")
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = p.applyFamily(context.Background(), "ns", c, "ipv4", "iptables-save", "iptables-restore", tc.jumps, early)
			if (err != nil) != (tc.save != nil) {
				t.Fatalf("got error %v, want %v", err, tc.save)
			}
			if f.runs != tc.runs || f.commited != tc.commit {
				t.Errorf("%d restores run, committed %v; want %d, %v", f.runs, f.commited, tc.runs, tc.commit)
			}
			if !tc.commit && (len(f.lines) > 0 || !f.killed) {
				t.Errorf("the unused restore read %d lines, killed: %v", len(f.lines), f.killed)
			}
		})
	}
}

// TestEncodePrivate: a private put together from its families' encoded
// parts is the one json.Marshal makes, and reads back the same.
func TestEncodePrivate(t *testing.T) {
	v4 := applied{Lines: []string{"-p tcp -m tcp --dport 22 -j ACCEPT", `-m comment --comment "a \"b\"" -j DROP`}, Origin: []int{fixed, 0}, Jumps: map[string]int{"INPUT": 1, "FORWARD": 0}}
	v6 := applied{Lines: []string{}, Origin: []int{}, Jumps: map[string]int{"OUTPUT": 2}}
	for name, priv := range map[string]private{
		"one family":        {Families: map[string]applied{"ipv4": v4}, Netns: 4097},
		"both families":     {Families: map[string]applied{"ipv6": v6, "ipv4": v4}, Netns: 1 << 40},
		"no namespace seen": {Families: map[string]applied{"ipv6": v6}},
	} {
		t.Run(name, func(t *testing.T) {
			parts := map[string][]byte{}
			for f, a := range priv.Families {
				parts[f], _ = json.Marshal(a)
			}
			got, ok := encodePrivate(parts, priv.Netns)
			want, _ := json.Marshal(priv)
			if !ok || string(got) != string(want) {
				t.Errorf("wrong encoding\ngot:  %s\nwant: %s", got, want)
			}
		})
	}
	if _, ok := encodePrivate(map[string][]byte{"ipv4": []byte("{}"), "ipv6": nil}, 1); ok {
		t.Error("encoded a private with a family missing")
	}
}
