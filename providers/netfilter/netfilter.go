package netfilter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

// Provider serves firewall_chain resources.
type Provider struct {
	lab     providers.Lab
	backend string
	maxUID  uint32
	timeout time.Duration // tool_timeout; 0 is labnet's default

	mu    sync.Mutex
	locks map[string]*sync.Mutex // per namespace

	// run executes a tool in a namespace; tests wrap it to count calls.
	run func(ctx context.Context, ns string, stdin io.Reader, name string, args ...string) ([]byte, error)
}

var _ providers.Provider = (*Provider)(nil)

// New returns the netfilter provider.
func New() *Provider {
	p := &Provider{backend: "iptables", locks: map[string]*sync.Mutex{}}
	p.run = p.runTool
	return p
}

// runTool runs iptables-restore, iptables-save, ... in a namespace,
// bounded by tool_timeout (labnet.Run).
func (p *Provider) runTool(ctx context.Context, ns string, stdin io.Reader, name string, args ...string) ([]byte, error) {
	return labnet.Run(ctx, labnet.Tool{Name: name, Args: args, Netns: ns, StdinReader: stdin, Timeout: p.timeout})
}

// errNftables: the nftables backend is declared in the schema (the
// language allows it) but not built; validate refuses it, so apply never gets here.
var errNftables = providers.NothingDone(errors.New(`backend = "nftables" is not implemented yet; use the default backend, iptables`))

func (p *Provider) backendOf(v cty.Value) string {
	if b := providers.String(v, "backend"); b != "" {
		return b
	}
	return p.backend
}

func (p *Provider) Name() string { return "netfilter" }
func (p *Provider) Tools() []string {
	return []string{"iptables-restore", "iptables-save", "ip6tables-restore", "nft"}
}

func (p *Provider) ConfigSchema() *providers.Block {
	return &providers.Block{Attributes: map[string]*providers.Attribute{
		"backend":      providers.OptionalDefault(cty.StringVal("iptables"), providers.Replace, "iptables or nftables").OneOf("iptables", "nftables"),
		"tool_timeout": providers.ToolTimeoutAttribute(),
	}}
}

func (p *Provider) Schemas() map[string]*providers.Schema {
	str := cty.String
	opt := providers.Optional
	rule := &providers.Block{Attributes: map[string]*providers.Attribute{
		"action":        providers.Required(str, providers.InPlace, "accept, drop, reject, return or jump").OneOf("accept", "drop", "reject", "return", "jump"),
		"jump":          opt(str, providers.InPlace, "the chain to jump to, with action = jump"),
		"protocol":      opt(str, providers.InPlace, "tcp, udp, icmp, icmpv6, ..."),
		"source":        opt(str, providers.InPlace, "an address or CIDR"),
		"destination":   opt(str, providers.InPlace, "an address or CIDR"),
		"sport":         opt(str, providers.InPlace, "a port or range 1000-2000"),
		"dport":         opt(str, providers.InPlace, "a port or range 1000-2000"),
		"in_interface":  opt(str, providers.InPlace, "the incoming interface"),
		"out_interface": opt(str, providers.InPlace, "the outgoing interface"),
		"uid_owner":     opt(cty.Number, providers.InPlace, "the socket owner's uid (OUTPUT and POSTROUTING only)"),
		"ct_state":      opt(cty.List(str), providers.InPlace, "new, established, related, invalid").OneOf(slices.Sorted(maps.Keys(ctStates))...),
		"icmp_type":     opt(str, providers.InPlace, "an icmp or icmpv6 type"),
		"comment":       opt(str, providers.InPlace, "a comment kept with the rule"),
	}}
	target := providers.Required(str, providers.Replace, "a container (its network namespace) or lab")
	target.Reference = true
	return map[string]*providers.Schema{"firewall_chain": {
		Block: providers.Block{
			Attributes: map[string]*providers.Attribute{
				"target":     target,
				"family":     providers.OptionalDefault(cty.StringVal("ipv4"), providers.InPlace, "ipv4, ipv6 or both").OneOf("ipv4", "ipv6", "both"),
				"table":      providers.OptionalDefault(cty.StringVal("filter"), providers.Replace, "filter, nat, mangle or raw").OneOf("filter", "nat", "mangle", "raw"),
				"hooks":      opt(cty.List(str), providers.InPlace, "built-in chains that jump to this one").OneOf(builtinChains...),
				"mode":       providers.OptionalDefault(cty.StringVal("denylist"), providers.InPlace, "allowlist or denylist").OneOf("allowlist", "denylist"),
				"uids":       opt(cty.List(cty.Number), providers.InPlace, "uids that RETURN (allowlist) or DROP (denylist)"),
				"interfaces": opt(cty.List(str), providers.InPlace, "interfaces that RETURN in an allowlist"),
				"backend":    opt(str, providers.Replace, "iptables or nftables; defaults to the provider's").OneOf("iptables", "nftables"),
			},
			Blocks: map[string]*providers.NestedBlock{
				"rule": {Nesting: providers.NestingList, Cost: providers.InPlace, Block: rule},
			},
		},
		Description: "a netfilter chain, replaced atomically",
		Singleton:   "A firewall chain is named after its resource in its table and namespace, so the old and the new chain cannot exist at once.",
	}}
}

var _ providers.Validator = (*Provider)(nil)

// ValidateResource checks a chain before anything is rendered: names,
// addresses, ports, protocols, and owner matches only where the kernel
// allows them, at validate and plan, so apply never renders a bad value.
func (p *Provider) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	if typ != "firewall_chain" || !v.IsWhollyKnown() {
		return nil
	}
	var errs []*providers.AttrError
	if t := str(v, "target"); t != "lab" && !strings.HasPrefix(t, "container.") {
		errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("target"), Summary: "Invalid target",
			Detail: fmt.Sprintf("%q: a chain lives in a container's network namespace (target = container.NAME) or in the lab's (target = lab).", t)})
	}
	switch b := str(v, "backend"); b {
	case "", "iptables":
	case "nftables":
		errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("backend"), Summary: "Backend not implemented",
			Detail: `backend = "nftables" is not implemented yet; leave backend out to use iptables-restore.`})
	}
	// The chain's name is the resource's name, checked by ValidateLab,
	// which sees addresses; here any valid name lets the rest be checked.
	_, more := ParseChain("LABFORM", v)
	return append(errs, more...)
}

var _ providers.LabValidator = (*Provider)(nil)

// ValidateLab checks what spans chains: a chain's name (the resource's
// name) must suit iptables, two chains must not share a name in one
// namespace and table (count with target = lab would do that), and a
// jump must go to a chain declared in the same namespace, table and
// families, which iptables needs to exist.
func (p *Provider) ValidateLab(typ string, values map[string]cty.Value) map[string][]*providers.AttrError {
	if typ != "firewall_chain" {
		return nil
	}
	type where struct{ target, table, name, family string }
	owner := map[where]string{}
	addrs := make([]string, 0, len(values))
	for a := range values {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	out := map[string][]*providers.AttrError{}
	for _, a := range addrs {
		v := values[a]
		if !v.IsWhollyKnown() {
			continue
		}
		name := nameOf(a)
		if e := checkChainName(name); e != nil {
			out[a] = append(out[a], e)
			continue
		}
		for _, fam := range familiesOf(v) {
			w := where{str(v, "target"), str(v, "table"), name, fam}
			if first, dup := owner[w]; dup {
				out[a] = append(out[a], &providers.AttrError{Path: cty.GetAttrPath("target"), Summary: "Two chains with one name",
					Detail: fmt.Sprintf("%s and %s both put an %s chain %q in the %s table of %s. A chain is named after its resource: give them different names, or different targets.", first, a, fam, name, w.table, w.target)})
				break
			}
			owner[w] = a
		}
	}
	for _, a := range addrs {
		v := values[a]
		if !v.IsWhollyKnown() || len(out[a]) > 0 {
			continue
		}
		rules := v.GetAttr("rule")
		if rules.IsNull() {
			continue
		}
		for i, r := range rules.AsValueSlice() {
			if str(r, "action") != "jump" {
				continue
			}
			to := str(r, "jump")
			for _, fam := range familiesOf(v) {
				if _, ok := owner[where{str(v, "target"), str(v, "table"), to, fam}]; !ok {
					out[a] = append(out[a], &providers.AttrError{Path: cty.GetAttrPath("rule").Index(cty.NumberIntVal(int64(i))).GetAttr("jump"),
						Summary: "Jump to an undeclared chain",
						Detail: fmt.Sprintf("%q is not a firewall_chain of this lab with target = %s, table %q and family %s; iptables can only jump to a chain that exists there.",
							to, str(v, "target"), str(v, "table"), fam)})
					break
				}
			}
		}
	}
	return out
}
