package netfilter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
)

var _ providers.Importer = (*Provider)(nil)

// ImportIDForm is the form of a chain's import ID.
func (p *Provider) ImportIDForm(typ string) string {
	return "`NETNS:FAMILY:TABLE:CHAIN`, such as `lf-campus:ipv4:filter:host_in`: the namespace (a name under /var/run/netns: `lf-<lab>` for `target = lab`), `ipv4` or `ipv6`, the table and the chain, which must be the resource's name, its table, one of its families and its target's namespace"
}

// Import adopts a chain made outside labform. Its ID is
// NETNS:FAMILY:TABLE:CHAIN, NETNS the name of a namespace under
// /var/run/netns (or its path). A chain is named after its resource and
// lives in its target's namespace, so the ID must match the
// configuration: CHAIN the resource's name, TABLE its table, FAMILY one
// of its families, NETNS its target's namespace. The chain is read as a
// refresh reads one with no record of an apply: against the chain the
// configuration renders, so the plan shows every difference (rule by
// rule, hooks, the mode's own rules) and apply repairs them in place.
func (p *Provider) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	parts := strings.Split(req.ImportID, ":")
	if len(parts) != 4 || parts[0] == "" || parts[3] == "" {
		return providers.ImportResponse{}, fmt.Errorf("a firewall chain's ID is NETNS:FAMILY:TABLE:CHAIN, such as lf-campus:ipv4:filter:host_in")
	}
	ns, fam, table, chain := filepath.Base(parts[0]), parts[1], parts[2], parts[3]
	name := nameOf(req.Addr)
	if chain != name {
		return providers.ImportResponse{}, fmt.Errorf("the chain is %q, but %s manages a chain named %q (a chain is named after its resource): import it into firewall_chain.%s, or rename the chain", chain, req.Addr, name, chain)
	}
	if want := providers.String(req.Planned, "table"); table != want {
		return providers.ImportResponse{}, fmt.Errorf("the chain is in table %q; the configuration says table = %q", table, want)
	}
	if fams := familiesOf(req.Planned); !contains(fams, fam) {
		return providers.ImportResponse{}, fmt.Errorf("the chain is in family %q; the configuration says family = %q", fam, providers.String(req.Planned, "family"))
	}
	target := providers.String(req.Planned, "target")
	want := p.netnsOf(target)
	if ns != want {
		return providers.ImportResponse{}, fmt.Errorf("the chain is in namespace %s, but target = %s puts it in %s", ns, target, want)
	}
	if _, err := os.Stat(filepath.Join(labnet.Dir, ns)); err != nil {
		return providers.ImportResponse{}, fmt.Errorf("no network namespace %s: %w", ns, err)
	}
	// Read as a refresh would with no record of an apply: the live chain
	// against the one the configuration renders, in every family the
	// configuration gives it.
	live := map[string]*Table{}
	for _, f := range families {
		if !contains(familiesOf(req.Planned), f.name) {
			continue
		}
		rs, err := p.save(ctx, ns, f.save)
		if err != nil {
			return providers.ImportResponse{}, err
		}
		live[f.name] = rs.Table(table)
		if f.name == fam && !live[f.name].Has(chain) {
			return providers.ImportResponse{}, fmt.Errorf("%s in namespace %s shows no chain %s in table %s", f.save, ns, chain, table)
		}
	}
	resp := p.readOne(providers.ReadRequest{Type: req.Type, Addr: req.Addr, ID: req.ID, Prior: req.Planned}, live, 0)
	return providers.ImportResponse{State: resp.State}, nil
}
