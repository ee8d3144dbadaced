package netfilter

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

// families maps a family to its tools.
var families = []struct{ name, restore, save string }{
	{"ipv4", "iptables-restore", "iptables-save"},
	{"ipv6", "ip6tables-restore", "ip6tables-save"},
}

// private is what an apply leaves for the next refresh: the chain's rules
// per family as iptables-save printed them right after the restore, and
// which rule block each came from. Refresh compares the live chain with
// these lines, so iptables-save's canonical forms (a /32 added, quotes
// dropped) never read as drift.
type private struct {
	Families map[string]applied `json:"families"`
}

type applied struct {
	Lines  []string `json:"lines"`
	Origin []int    `json:"origin"`
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
// longer has. The rules are read back for the next refresh to compare.
func (p *Provider) apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	c, errs := ParseChain(nameOf(req.Addr), req.Planned)
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
	priv := private{Families: map[string]applied{}}
	for _, fam := range families {
		if !contains(c.Families, fam.name) && (req.Prior.IsNull() || !contains(familiesOf(req.Prior), fam.name)) {
			continue // never applied in this family: nothing to remove
		}
		live, err := p.save(ctx, ns, fam.save)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		t := live.Table(c.Table)
		if !contains(c.Families, fam.name) {
			if t.Has(c.Name) || len(t.References(c.Name)) > 0 {
				if err := p.restore(ctx, ns, fam.restore, DeleteInput(c.Table, c.Name, t)); err != nil {
					return providers.ApplyResponse{}, err
				}
			}
			continue
		}
		if err := p.restore(ctx, ns, fam.restore, c.Restore(fam.name, p.maxUID, t)); err != nil {
			return providers.ApplyResponse{}, err
		}
		after, err := p.save(ctx, ns, fam.save)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		_, origin := c.body(fam.name, p.maxUID)
		lines := after.Table(c.Table).Chains[c.Name]
		if len(lines) != len(origin) {
			return providers.ApplyResponse{}, fmt.Errorf("after the restore, %s shows %d rules in %s where %d were written (another tool changing the chain at the same time?)", fam.save, len(lines), c.Name, len(origin))
		}
		priv.Families[fam.name] = applied{Lines: lines, Origin: origin}
	}
	b, err := json.Marshal(priv)
	return providers.ApplyResponse{State: req.Planned, Private: b}, err
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

var restoreLine = regexp.MustCompile(`line (\d+)`)

// restore feeds one input to iptables-restore --noflush: the kernel takes
// it as one transaction, or not at all. A failure quotes the input line
// that iptables-restore names.
func (p *Provider) restore(ctx context.Context, ns, tool, input string) error {
	_, err := p.run(ctx, ns, []byte(input), tool, "--noflush", "--wait")
	if err == nil {
		return nil
	}
	var ce *labnet.CommandError
	if errors.As(err, &ce) {
		if m := restoreLine.FindStringSubmatch(ce.Stderr); m != nil {
			n, _ := strconv.Atoi(m[1])
			if lines := strings.Split(input, "\n"); n >= 1 && n <= len(lines) {
				return fmt.Errorf("%w\n  line %d of the input: %s", err, n, lines[n-1])
			}
		}
	}
	return err
}

// Read refreshes one chain; ReadMany does the work.
func (p *Provider) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	resps, errs := p.ReadMany(ctx, []providers.ReadRequest{req})
	return resps[0], errs[0]
}

var _ providers.BatchReader = (*Provider)(nil)

// ReadMany refreshes chains with one iptables-save per namespace and
// family, however many chains live there.
func (p *Provider) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	resps := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	type key struct{ ns, tool string }
	saves := map[key]Ruleset{}
	saveErrs := map[key]error{}
	for i, req := range reqs {
		ns := p.netnsOf(providers.String(req.Prior, "target"))
		if _, err := os.Stat(filepath.Join(labnet.Dir, ns)); errors.Is(err, os.ErrNotExist) {
			resps[i] = providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}
			continue
		}
		live := map[string]*Table{}
		for _, fam := range families {
			if !contains(familiesOf(req.Prior), fam.name) {
				continue
			}
			k := key{ns, fam.save}
			if _, done := saves[k]; !done && saveErrs[k] == nil {
				saves[k], saveErrs[k] = p.save(ctx, ns, fam.save)
			}
			if saveErrs[k] != nil {
				errs[i] = saveErrs[k]
				break
			}
			live[fam.name] = saves[k].Table(providers.String(req.Prior, "table"))
		}
		if errs[i] == nil {
			resps[i] = p.readOne(req, live)
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
