package netfilter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

// families maps a family to its tools.
var families = []struct{ name, restore, save string }{
	{"ipv4", "iptables-restore", "iptables-save"},
	{"ipv6", "ip6tables-restore", "ip6tables-save"},
}

// private is what an apply leaves for the next refresh: the chain's rules
// per family as iptables-save prints them (predicted by savedForm, or
// read back after the restore when it cannot tell), which rule block each
// came from, and the hooks' jumps. Refresh compares the live chain with
// these lines, so iptables-save's canonical forms (a /32 added, quotes
// dropped) never read as drift.
type private struct {
	Families map[string]applied `json:"families"`
	// Netns is the cookie of the namespace the jumps were counted in
	// (never reused while the machine runs): a container replaced since
	// has a new, empty namespace under the same name.
	Netns uint64 `json:"netns,omitempty"`
}

type applied struct {
	Lines  []string `json:"lines"`
	Origin []int    `json:"origin"`
	// Jumps counts, for each built-in chain of the table, its bare jumps
	// to this chain, as the last apply left them or the last refresh saw
	// them: the next apply computes its restore input from them without
	// reading the table again.
	Jumps map[string]int `json:"jumps,omitempty"`
}

func (p *Provider) Configure(_ context.Context, req providers.ConfigureRequest) error {
	p.lab = req.Lab
	if v := req.Config; !v.IsNull() && providers.String(v, "backend") != "" {
		p.backend = providers.String(v, "backend")
	}
	uid, err := readMaxUID("/proc/self/uid_map")
	if err != nil {
		return err
	}
	p.maxUID = uid
	p.timeout, err = providers.ToolTimeout(req.Config)
	return err
}

// readMaxUID is the highest uid mapped into labform's user namespace, as
// netd finds it: the end of the widest range in uid_map.
func readMaxUID(path string) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var max uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var inside, outside, count uint64
		if _, err := fmt.Sscan(sc.Text(), &inside, &outside, &count); err != nil || count == 0 {
			continue
		}
		if end := inside + count - 1; end > max {
			max = end
		}
	}
	if max > 4294967294 {
		max = 4294967294 // (uid_t)-1 is not a uid
	}
	return uint32(max), sc.Err()
}

// nameOf is the chain's name in its table: the resource's name. Jumps
// name chains this way too.
func nameOf(addr string) string {
	name := strings.TrimPrefix(addr, "firewall_chain.")
	name, _, _ = strings.Cut(name, "[")
	return name
}

// netnsOf is the namespace a chain lives in.
func (p *Provider) netnsOf(target string) string {
	if target == "lab" {
		return providers.LabNetns(p.lab.Name)
	}
	return labnet.ContainerNetns(p.lab.Object(target))
}

// holder names a lab-target chain's hold on the lab namespace.
func holder(addr string) string {
	h := sha256.Sum256([]byte(addr))
	return "firewall_chain-" + hex.EncodeToString(h[:6])
}

// lock serializes the save-restore-save sequences in one namespace, so
// that each restore input is computed from the ruleset it lands on.
func (p *Provider) lock(ns string) func() {
	p.mu.Lock()
	m := p.locks[ns]
	if m == nil {
		m = &sync.Mutex{}
		p.locks[ns] = m
	}
	p.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (p *Provider) Create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.apply(ctx, req)
}

func (p *Provider) Update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.apply(ctx, req)
}

// apply installs the chain in every family it has, one restore per family
// (declare, refill, fix the jumps), and removes it from a family it no
// longer has.
func (p *Provider) apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	// The rule blocks are read while the namespace is found and the first
	// restore starts; they are all checked before it commits.
	c, errs := startChain(nameOf(req.Addr), req.Planned)
	if e := checkChainName(c.Name); e != nil {
		// Validate refuses it; this keeps apply from ever writing to a
		// built-in chain whatever reaches it.
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return providers.ApplyResponse{}, providers.NothingDone(errs[0])
	}
	if p.backendOf(req.Planned) != "iptables" {
		return providers.ApplyResponse{}, errNftables
	}
	target := providers.String(req.Planned, "target")
	ns := p.netnsOf(target)
	if req.Prior.IsNull() {
		// A create takes a hold on the lab namespace (or makes it): not
		// for a chain that is refused.
		if err := c.invalid(); err != nil {
			return providers.ApplyResponse{}, err
		}
	}
	if target == "lab" {
		labnet.Lock(p.lab.Name)
		err := labnet.EnsureNetns(ns)
		if err == nil {
			err = labnet.Hold(p.lab.Name, holder(req.Addr))
		}
		labnet.Unlock(p.lab.Name)
		if err != nil {
			return providers.ApplyResponse{}, providers.NothingDone(err)
		}
	} else if _, err := os.Stat(filepath.Join(labnet.Dir, ns)); err != nil {
		return providers.ApplyResponse{}, providers.NothingDone(fmt.Errorf("the network namespace of %s (%s) is missing; is the container applied?", target, ns))
	}
	unlock := p.lock(ns)
	defer unlock()
	// The restore of the chain's first family starts now, while the last
	// apply's jumps (or the table) are read: it reads nothing until its
	// input is known.
	var early *restoreProc
	for _, fam := range families {
		if fam.name == c.Families[0] {
			var err error
			if early, err = p.startRestore(ctx, ns, fam.restore); err != nil {
				return providers.ApplyResponse{}, err
			}
		}
	}
	defer func() {
		if early != nil {
			early.abort()
		}
	}()
	// Of the last apply's private, only the jumps are used: the rules'
	// lines, which make most of it, are skipped.
	var last struct {
		Families map[string]struct {
			Jumps map[string]int `json:"jumps"`
		} `json:"families"`
		Netns uint64 `json:"netns"`
	}
	cookie, err := netnsCookie(ns)
	if err == nil && len(req.Private) > 0 && !req.Prior.IsNull() {
		json.Unmarshal(req.Private, &last) // unreadable: read the table instead
	}
	if last.Netns != cookie || cookie == 0 {
		last.Families = nil // counted in another namespace: read the table
	}
	priv := private{Families: map[string]applied{}, Netns: cookie}
	encoded := map[string][]byte{} // each family's part of priv, as JSON
	for _, fam := range families {
		if !contains(c.Families, fam.name) && (req.Prior.IsNull() || !contains(familiesOf(req.Prior), fam.name)) {
			continue // never applied in this family: nothing to remove
		}
		if !contains(c.Families, fam.name) {
			if err := c.invalid(); err != nil {
				return providers.ApplyResponse{}, err
			}
			live, err := p.save(ctx, ns, fam.save)
			if err != nil {
				return providers.ApplyResponse{}, err
			}
			if t := live.Table(c.Table); t.Has(c.Name) || len(t.References(c.Name)) > 0 {
				if err := p.restore(ctx, ns, fam.restore, DeleteInput(c.Table, c.Name, t)); err != nil {
					return providers.ApplyResponse{}, err
				}
			}
			continue
		}
		var r *restoreProc
		if fam.name == c.Families[0] {
			r, early = early, nil
		}
		a, enc, err := p.applyFamily(ctx, ns, c, fam.name, fam.save, fam.restore, last.Families[fam.name].Jumps, r)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		priv.Families[fam.name], encoded[fam.name] = a, enc
	}
	if b, ok := encodePrivate(encoded, priv.Netns); ok {
		return providers.ApplyResponse{State: req.Planned, Private: b}, nil
	}
	b, err := json.Marshal(priv)
	return providers.ApplyResponse{State: req.Planned, Private: b}, err
}

// encodePrivate is json.Marshal of a private whose families' parts are
// already encoded (written.predicted): a chain of 10,000 rules takes
// milliseconds to encode, which are spent while its restore commits
// rather than after. ok is false when a part is missing.
func encodePrivate(families map[string][]byte, netns uint64) (b []byte, ok bool) {
	names := make([]string, 0, len(families))
	size := 32
	for name, enc := range families {
		if enc == nil {
			return nil, false
		}
		names, size = append(names, name), size+len(name)+len(enc)+4
	}
	sort.Strings(names)
	b = make([]byte, 0, size)
	b = append(b, `{"families":{`...)
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, name)
		b = append(b, ':')
		b = append(b, families[name]...)
	}
	b = append(b, '}')
	if netns != 0 {
		b = append(b, `,"netns":`...)
		b = strconv.AppendUint(b, netns, 10)
	}
	return append(b, '}'), true
}

// applyFamily writes the chain in one family with one restore and
// returns what the next refresh compares the live chain with.
//
// The restore input depends on the jumps the hooks hold. When the last
// apply or refresh counted them (jumps), they are trusted; a restore that
// fails on them (a jump deleted by hand since) is retried once on the
// table as iptables-save shows it, which is also what a chain with jump
// rules needs (whether their targets exist) and what a create starts
// from. The rules written are not read back when savedForm can predict
// how iptables-save prints every one of them: a restore that succeeded
// wrote them all, in one transaction.
//
// first, when not nil, is the restore to use first (started early); it is
// used or killed before applyFamily returns.
func (p *Provider) applyFamily(ctx context.Context, ns string, c *Chain, family, save, restore string, jumps map[string]int, first *restoreProc) (applied, []byte, error) {
	defer func() {
		if first != nil {
			first.abort()
		}
	}()
	next := func() (r *restoreProc) {
		r, first = first, nil
		return r
	}
	var t *Table
	var w *written
	var err error
	if jumps != nil && !c.hasJumpRules() {
		t = jumpsTable(c, jumps)
		if w, err = p.restoreChain(ctx, ns, restore, c, family, t, next()); err != nil {
			if ctx.Err() != nil || errors.Is(err, providers.ErrNothingDone) {
				return applied{}, nil, err
			}
			t = nil // counted jumps that are no longer there: read the table
		}
	}
	if t == nil {
		live, err := p.save(ctx, ns, save)
		if err == nil {
			t = live.Table(c.Table)
			w, err = p.restoreChain(ctx, ns, restore, c, family, t, next())
		}
		if err != nil {
			return applied{}, nil, err
		}
	}
	pred := <-w.predicted
	if lines := pred.lines; lines == nil {
		rs, err := p.save(ctx, ns, save)
		if err != nil {
			return applied{}, nil, err
		}
		lines = rs.Table(c.Table).Chains[c.Name]
		if len(lines) != len(w.origin) {
			return applied{}, nil, fmt.Errorf("after the restore, %s shows %d rules in %s where %d were written (another tool changing the chain at the same time?)",
				save, len(lines), c.Name, len(w.origin))
		}
		return applied{Lines: lines, Origin: w.origin, Jumps: jumpsAfter(c, t)}, nil, nil
	}
	return applied{Lines: pred.lines, Origin: w.origin, Jumps: pred.jumps}, pred.encoded, nil
}

// written is what restoreChain wrote of a chain.
type written struct {
	origin    []int // the rule block each of the chain's lines comes from, or fixed
	predicted chan prediction
}

// prediction is what the next refresh will compare the chain with, as
// worked out while the kernel commits it: lines as iptables-save will
// print them (savedForm; nil when it cannot tell them all), the jumps the
// hooks will hold, and the applied value they make, as JSON.
type prediction struct {
	lines   []string
	jumps   map[string]int
	encoded []byte
}

// jumpsAfter counts, for each built-in chain of c's table, its bare jumps
// to c once c's restore on the table t has committed.
func jumpsAfter(c *Chain, t *Table) map[string]int {
	after := map[string]int{}
	for _, h := range builtins[c.Table] {
		n := t.Jumps(h, c.Name)
		switch {
		case !contains(c.Hooks, h):
			n = 0
		case n == 0:
			n = 1
		}
		after[h] = n
	}
	return after
}

// restoreChain writes the chain for one family with one restore
// (writeRestore's input), started before the input is whole: the tool
// starts and parses the first rules while the rest are read and
// rendered. An invalid rule block kills the tool before its input ends,
// uncommitted; a restore that fails while a rule block is invalid
// reports that rule block's error, as one that did nothing, like a chain
// refused before anything ran. How iptables-save will print the lines is
// worked out once they are written, while the kernel commits them.
//
// r is the restore to use, started early; nil starts one.
func (p *Provider) restoreChain(ctx context.Context, ns, tool string, c *Chain, family string, live *Table, r *restoreProc) (*written, error) {
	if live == nil {
		live = &Table{Chains: map[string][]string{}}
	}
	w := &written{predicted: make(chan prediction, 1)}
	if r == nil {
		var err error
		if r, err = p.startRestore(ctx, ns, tool); err != nil {
			return w, err
		}
	}
	err := r.finish(func(sw io.StringWriter) error {
		lines, origin, err := c.writeRestore(sw, family, p.maxUID, live)
		if err != nil {
			return err
		}
		w.origin = origin
		go func() {
			pred := prediction{lines: make([]string, len(lines)), jumps: jumpsAfter(c, live)}
			for i, l := range lines {
				var ok bool
				if pred.lines[i], ok = savedForm(l, family); !ok {
					w.predicted <- prediction{}
					return
				}
			}
			pred.encoded, _ = json.Marshal(applied{Lines: pred.lines, Origin: origin, Jumps: pred.jumps})
			w.predicted <- pred
		}()
		return nil
	})
	if err != nil {
		if invalid := c.invalid(); invalid != nil {
			return w, invalid
		}
	}
	return w, err
}

// invalid waits for the rule blocks to be read, and returns the first
// error among them as apply reports it (nothing was done), or nil.
func (c *Chain) invalid() error {
	if errs := c.ruleErrors(); len(errs) > 0 {
		return providers.NothingDone(errs[0])
	}
	return nil
}

// netnsCookie identifies the namespace now under a name: the kernel's
// cookie, which no other namespace gets while the machine runs. 0 when
// the kernel has none (before Linux 5.14).
func netnsCookie(ns string) (uint64, error) {
	var cookie uint64
	err := labnet.Within(ns, func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		cookie, err = unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
		if err != nil {
			cookie = 0
		}
		return nil
	})
	return cookie, err
}

// jumpsTable is a table whose built-in chains hold only the counted bare
// jumps to c: all that c.Restore reads of a chain without jump rules.
func jumpsTable(c *Chain, jumps map[string]int) *Table {
	t := &Table{Chains: map[string][]string{}}
	for h, n := range jumps {
		for ; n > 0; n-- {
			t.Chains[h] = append(t.Chains[h], "-j "+c.Name)
		}
	}
	return t
}

// Delete removes the chain and every jump to it, in each family.
func (p *Provider) Delete(ctx context.Context, req providers.ApplyRequest) error {
	target := providers.String(req.Prior, "target")
	ns := p.netnsOf(target)
	if _, err := os.Stat(filepath.Join(labnet.Dir, ns)); errors.Is(err, os.ErrNotExist) {
		return nil // its namespace went, and the chain with it
	}
	name, table := nameOf(req.Addr), providers.String(req.Prior, "table")
	unlock := p.lock(ns)
	for _, fam := range families {
		live, err := p.save(ctx, ns, fam.save)
		if err != nil {
			unlock()
			return err
		}
		t := live.Table(table)
		if !t.Has(name) && len(t.References(name)) == 0 {
			continue
		}
		if err := p.restore(ctx, ns, fam.restore, DeleteInput(table, name, t)); err != nil {
			unlock()
			return err
		}
	}
	unlock()
	if target == "lab" {
		labnet.Lock(p.lab.Name)
		labnet.Release(p.lab.Name, holder(req.Addr))
		labnet.RemoveLabIfEmpty(p.lab.Name)
		labnet.Unlock(p.lab.Name)
	}
	return nil
}

// save runs iptables-save (or ip6tables-save) in the namespace: every
// table in one call.
func (p *Provider) save(ctx context.Context, ns, tool string) (Ruleset, error) {
	out, err := p.run(ctx, ns, nil, tool)
	if err != nil {
		return nil, err
	}
	return ParseSave(string(out)), nil
}

var restoreLine = regexp.MustCompile(`line:? (\d+)`)

// restore feeds one input to iptables-restore --noflush: the kernel takes
// it as one transaction, or not at all. A failure quotes the input line
// that iptables-restore names.
func (p *Provider) restore(ctx context.Context, ns, tool, input string) error {
	return p.restoreWith(ctx, ns, tool, func(w io.StringWriter) error {
		_, err := w.WriteString(input)
		return err
	})
}

// restoreWith runs iptables-restore --noflush on the input that write
// writes, as it writes it (restoreProc.finish).
func (p *Provider) restoreWith(ctx context.Context, ns, tool string, write func(io.StringWriter) error) error {
	r, err := p.startRestore(ctx, ns, tool)
	if err != nil {
		return err
	}
	return r.finish(write)
}

// restoreProc is an iptables-restore --noflush (or ip6tables-restore)
// started before its input is known: it reads nothing, and so takes no
// lock and reads no table, until finish writes its input, into a pipe
// that is its standard input. One that is not to be used is aborted.
type restoreProc struct {
	pw     *os.File
	cancel context.CancelFunc
	done   chan error // the tool's exit
}

// startRestore starts tool in ns.
func (p *Provider) startRestore(ctx context.Context, ns, tool string) (*restoreProc, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tool, err)
	}
	// A pipe as large as a big chain's input lets it be written without
	// waiting for the tool to read it.
	if raw, err := pw.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &restoreProc{pw: pw, cancel: cancel, done: make(chan error, 1)}
	go func() {
		_, err := p.run(rctx, ns, pr, tool, "--noflush", "--wait")
		// The tool has exited: a write still under way fails (the pipe
		// has no reader left) rather than wait.
		pr.Close()
		r.done <- err
	}()
	// The new goroutine runs next, on this core: the tool starts now
	// rather than once the caller blocks (reading rules keeps the other
	// cores busy).
	runtime.Gosched()
	return r, nil
}

// finish writes the tool's input with write and waits for the tool. What
// was sent is kept: a failure quotes the line the tool names. When write
// fails, the tool is killed before its input ends, so that nothing of it
// is committed, and write's error is returned.
func (r *restoreProc) finish(write func(io.StringWriter) error) error {
	defer r.cancel()
	var sent bytes.Buffer
	w := bufio.NewWriterSize(keepWriter{r.pw, &sent}, 64<<10)
	werr := write(w)
	if werr == nil {
		werr = w.Flush()
	}
	if werr != nil {
		r.cancel() // killed, never committed
	}
	r.pw.Close()
	err := <-r.done
	if werr != nil && !errors.Is(werr, syscall.EPIPE) {
		return werr
	}
	if err == nil {
		return nil
	}
	var ce *labnet.CommandError
	if errors.As(err, &ce) {
		if m := restoreLine.FindStringSubmatch(ce.Stderr); m != nil {
			n, _ := strconv.Atoi(m[1])
			if lines := strings.Split(sent.String(), "\n"); n >= 1 && n <= len(lines) {
				return fmt.Errorf("%w\n  line %d of the input: %s", err, n, lines[n-1])
			}
		}
	}
	return err
}

// abort ends a restore that was given no input: killed, and its input
// closed, it does nothing.
func (r *restoreProc) abort() {
	r.cancel()
	r.pw.Close()
	<-r.done
}

// keepWriter writes to w and keeps in kept what w took.
type keepWriter struct {
	w    io.Writer
	kept *bytes.Buffer
}

func (k keepWriter) Write(b []byte) (int, error) {
	n, err := k.w.Write(b)
	k.kept.Write(b[:n])
	return n, err
}

// Read refreshes one chain; ReadMany does the work.
func (p *Provider) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	resps, errs := p.ReadMany(ctx, []providers.ReadRequest{req})
	return resps[0], errs[0]
}

var _ providers.BatchReader = (*Provider)(nil)

// ReadMany refreshes chains with one iptables-save per namespace and
// family, however many chains live there; the namespaces' saves run 10
// at a time (a lab with a chain in each of 100 containers has 100).
func (p *Provider) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	resps := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	type key struct{ ns, tool string }
	type saved struct {
		rs  Ruleset
		err error
	}
	nsOf := make([]string, len(reqs))
	gone := make([]bool, len(reqs))
	saves := map[key]*saved{}
	cookies := map[string]uint64{}
	for i, req := range reqs {
		ns := p.netnsOf(providers.String(req.Prior, "target"))
		nsOf[i] = ns
		if _, err := os.Stat(filepath.Join(labnet.Dir, ns)); errors.Is(err, os.ErrNotExist) {
			gone[i] = true
			continue
		}
		cookies[ns] = 0
		for _, fam := range families {
			if contains(familiesOf(req.Prior), fam.name) {
				saves[key{ns, fam.save}] = &saved{}
			}
		}
	}
	sem := make(chan struct{}, 10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for k, s := range saves {
		wg.Add(1)
		go func(k key, s *saved) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s.rs, s.err = p.save(ctx, k.ns, k.tool)
		}(k, s)
	}
	namespaces := make([]string, 0, len(cookies))
	for ns := range cookies {
		namespaces = append(namespaces, ns)
	}
	for _, ns := range namespaces {
		wg.Add(1)
		go func(ns string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, _ := netnsCookie(ns) // 0: the next apply reads the table
			mu.Lock()
			cookies[ns] = c
			mu.Unlock()
		}(ns)
	}
	wg.Wait()
	for i, req := range reqs {
		if gone[i] {
			resps[i] = providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}
			continue
		}
		live := map[string]*Table{}
		for _, fam := range families {
			if !contains(familiesOf(req.Prior), fam.name) {
				continue
			}
			s := saves[key{nsOf[i], fam.save}]
			if s.err != nil {
				errs[i] = s.err
				break
			}
			live[fam.name] = s.rs.Table(providers.String(req.Prior, "table"))
		}
		if errs[i] == nil {
			resps[i] = p.readOne(req, live, cookies[nsOf[i]])
		}
	}
	return resps, errs
}

func familiesOf(v cty.Value) []string {
	if providers.String(v, "family") == "both" {
		return []string{"ipv4", "ipv6"}
	}
	return []string{providers.String(v, "family")}
}
