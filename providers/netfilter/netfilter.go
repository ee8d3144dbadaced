// Package netfilter is the provider of firewall_chain resources, applied
// with iptables-restore or nft.
package netfilter

import (
	"fmt"
	"strings"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// Provider serves firewall_chain resources.
type Provider struct {
	providers.Unimplemented
}

var _ providers.Provider = (*Provider)(nil)

// New returns the netfilter provider.
func New() *Provider {
	return &Provider{providers.Unimplemented{ProviderName: "netfilter", Issue: "issue 5"}}
}

func (p *Provider) Name() string { return "netfilter" }
func (p *Provider) Tools() []string {
	return []string{"iptables-restore", "iptables-save", "ip6tables-restore", "nft"}
}

func (p *Provider) ConfigSchema() *providers.Block {
	return &providers.Block{Attributes: map[string]*providers.Attribute{
		"backend": providers.OptionalDefault(cty.StringVal("iptables"), providers.Replace, "iptables or nftables"),
	}}
}

func (p *Provider) Schemas() map[string]*providers.Schema {
	IP, str := providers.InPlace, cty.String
	opt := providers.Optional
	rule := &providers.Block{Attributes: map[string]*providers.Attribute{
		"action":        providers.Required(str, IP, "accept, drop, reject, return or jump"),
		"jump":          opt(str, IP, "the chain to jump to, with action = jump"),
		"protocol":      opt(str, IP, "tcp, udp, icmp, icmpv6, ..."),
		"source":        opt(str, IP, "an address or CIDR"),
		"destination":   opt(str, IP, "an address or CIDR"),
		"sport":         opt(str, IP, "a port or range 1000-2000"),
		"dport":         opt(str, IP, "a port or range 1000-2000"),
		"in_interface":  opt(str, IP, "the incoming interface"),
		"out_interface": opt(str, IP, "the outgoing interface"),
		"uid_owner":     opt(cty.Number, IP, "the socket owner's uid (OUTPUT and POSTROUTING only)"),
		"ct_state":      opt(cty.List(str), IP, "new, established, related, invalid"),
		"icmp_type":     opt(str, IP, "an icmp or icmpv6 type"),
		"comment":       opt(str, IP, "a comment kept with the rule"),
	}}
	target := providers.Required(str, providers.Replace, "a container (its network namespace) or lab")
	target.Reference = true
	return map[string]*providers.Schema{"firewall_chain": {
		Block: providers.Block{
			Attributes: map[string]*providers.Attribute{
				"target":     target,
				"family":     providers.OptionalDefault(cty.StringVal("ipv4"), IP, "ipv4, ipv6 or both"),
				"table":      providers.OptionalDefault(cty.StringVal("filter"), providers.Replace, "filter, nat, mangle or raw"),
				"hooks":      opt(cty.List(str), IP, "built-in chains that jump to this one"),
				"mode":       providers.OptionalDefault(cty.StringVal("denylist"), IP, "allowlist or denylist"),
				"uids":       opt(cty.List(cty.Number), IP, "uids that RETURN (allowlist) or DROP (denylist)"),
				"interfaces": opt(cty.List(str), IP, "interfaces that RETURN in an allowlist"),
				"backend":    opt(str, providers.Replace, "iptables or nftables; defaults to the provider's"),
			},
			Blocks: map[string]*providers.NestedBlock{
				"rule": {Nesting: providers.NestingList, Cost: IP, Block: rule},
			},
		},
		Description: "a netfilter chain, replaced atomically",
	}}
}

var _ providers.Validator = (*Provider)(nil)

// ValidateResource checks a chain before anything is rendered: names,
// addresses, ports, protocols, and owner matches only where the kernel
// allows them. Apply is issue 5's remaining work; these checks already run
// at validate and plan.
func (p *Provider) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	if typ != "firewall_chain" || !v.IsWhollyKnown() {
		return nil
	}
	var errs []*providers.AttrError
	if t := str(v, "target"); t != "lab" && !strings.HasPrefix(t, "container.") {
		errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("target"), Summary: "Invalid target",
			Detail: fmt.Sprintf("%q: a chain lives in a container's network namespace (target = container.NAME) or in the lab's (target = lab).", t)})
	}
	// The resource's name is checked where it is written (config); here the
	// chain name only needs to be a valid one to check the rest.
	_, more := ParseChain("LABFORM", v)
	return append(errs, more...)
}
