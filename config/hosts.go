package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// HostBlock is a host block: a machine nodes are placed on with
// host = host.NAME.
type HostBlock struct {
	providers.Host
	DeclRange hcl.Range
}

var hostSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "ssh", Required: true}, {Name: "identity_file", Required: true}, {Name: "known_hosts", Required: true},
	{Name: "underlay", Required: true}, {Name: "underlay_mtu"},
}}

// nodeTypes are the resource types that take host = host.NAME.
var nodeTypes = []string{"vm", "container"}

func (l *Lab) decodeHost(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	diags := checkName("host", name, b.LabelRanges[0])
	if prev, dup := l.Hosts[name]; dup {
		return append(diags, duplicate("host", name, b.DefRange, prev.DeclRange))
	}
	content, d := b.Body.Content(hostSchema)
	diags = append(diags, d...)
	h := &HostBlock{Host: providers.Host{Name: name, UnderlayMTU: 1500}, DeclRange: b.DefRange}
	for an, set := range map[string]*string{"ssh": &h.SSH, "identity_file": &h.IdentityFile, "known_hosts": &h.KnownHosts, "underlay": &h.Underlay} {
		if a, ok := content.Attributes[an]; ok {
			diags = append(diags, decodeLiteral(a, cty.String, func(x cty.Value) { *set = x.AsString() })...)
		}
	}
	if a, ok := content.Attributes["underlay_mtu"]; ok {
		diags = append(diags, decodeLiteral(a, cty.Number, func(x cty.Value) {
			n, _ := x.AsBigFloat().Int64()
			h.UnderlayMTU = int(n)
		})...)
	}
	if a, ok := content.Attributes["ssh"]; ok && h.SSH != "" && !strings.Contains(h.SSH, "@") {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ssh address",
			Detail: fmt.Sprintf("ssh is USER@ADDRESS or USER@ADDRESS:PORT, e.g. root@10.0.0.2:22; %q names no user.", h.SSH), Subject: a.Expr.Range().Ptr()})
	}
	if l.Hosts == nil {
		l.Hosts = map[string]*HostBlock{}
	}
	l.Hosts[name] = h
	return diags
}

// decodeHostRef reads a resource's host = host.NAME.
func decodeHostRef(typ string, a *hcl.Attribute) (string, hcl.Diagnostics) {
	if a == nil {
		return "", nil
	}
	if !contains(nodeTypes, typ) {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported argument",
			Detail: fmt.Sprintf("A %s takes no host: only vm and container are placed on hosts; links and firewall chains follow their nodes.", typ), Subject: a.NameRange.Ptr()}}
	}
	tr, d := hcl.AbsTraversalForExpr(a.Expr)
	if d.HasErrors() || len(tr) != 2 || tr.RootName() != "host" {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid host",
			Detail: "host is a reference to a host block, written host = host.NAME.", Subject: a.Expr.Range().Ptr()}}
	}
	at, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid host",
			Detail: "host is a reference to a host block, written host = host.NAME.", Subject: a.Expr.Range().Ptr()}}
	}
	return at.Name, nil
}

// resolveHosts checks every host = host.NAME, registers each declared
// host's providers, and points every resource at the provider of its
// host: a node at its own, a firewall chain at its target's, a link at
// the host of its ends, or at the VXLAN provider when they sit on
// different hosts.
func (l *Lab) resolveHosts() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedAttrKeys(l.Hosts) {
		if err := l.Registry.AddHost(l.Hosts[name].Host); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Hosts unavailable", Detail: err.Error(), Subject: l.Hosts[name].DeclRange.Ptr()})
		}
	}
	if diags.HasErrors() {
		return diags
	}
	hosted := false // whether any resource names a host
	for _, ra := range l.Order {
		r := l.Resources[ra]
		if r.Host == "" {
			continue
		}
		hosted = true
		if l.IsModule() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Host placement inside a module",
				Detail:  "Nodes of a module run on the local machine: host blocks belong to the lab's own directory, and a module cannot name them yet. Place the node from the lab's own files, or remove host.",
				Subject: r.HostRange.Ptr()})
			continue
		}
		if r.Ready != nil && r.Ready.Attrs["console"] != nil {
			// tcp and exec run on the node's host, through its agent; the
			// console log is a file there that nothing reads from here.
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Console ready condition on a node of another host",
				Detail:  "A ready gate's console condition reads the node's console log, which stays on the node's host. On a node placed on a host, wait with tcp or exec instead, or place the node on the local machine.",
				Subject: r.Ready.Attrs["console"].Range.Ptr()})
		}
		if _, ok := l.Hosts[r.Host]; !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared host",
				Detail: fmt.Sprintf("No host %q is declared.%s", r.Host, didYouMean(r.Host, sortedAttrKeys(l.Hosts))), Subject: r.HostRange.Ptr()})
			continue
		}
		base, _ := providers.SplitHosted(r.Provider)
		r.Provider = providers.HostedName(base, r.Host)
	}
	nodeHosts := make(map[string]string, len(l.Order))
	for _, ra := range l.Order {
		if contains(nodeTypes, ra.Type) {
			nodeHosts[ra.String()] = l.Resources[ra].Host
		}
	}
	if p, ok := l.Registry.Provider(providers.CrossHostProvider); ok {
		if s, ok := p.(interface{ SetNodeHosts(map[string]string) }); ok {
			s.SetNodeHosts(nodeHosts)
		}
	}
	if !hosted {
		// Every node is on the local machine, and so is every link and
		// chain between them.
		return diags
	}
	for _, ra := range l.Order {
		r := l.Resources[ra]
		var attr string
		switch ra.Type {
		case "link":
			attr = "endpoints"
		case "firewall_chain":
			attr = "target"
		default:
			continue
		}
		hosts := l.referencedHosts(r, attr)
		switch {
		case len(hosts) == 1 && hosts[0] != "":
			r.Host = hosts[0]
			base, _ := providers.SplitHosted(r.Provider)
			r.Provider = providers.HostedName(base, r.Host)
		case len(hosts) > 1 && ra.Type == "link":
			r.Provider = providers.CrossHostProvider
			s, err := l.Registry.Schema(r.Provider, ra.Type)
			if err != nil {
				diags = append(diags, sourceless("Provider error", err.Error()))
				continue
			}
			r.Schema = s
		}
	}
	return diags
}

// referencedHosts lists the hosts ("" the local one) of the nodes attr's
// expression refers to, sorted.
func (l *Lab) referencedHosts(r *Resource, attr string) []string {
	a, ok := r.Content.Attrs[attr]
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	for _, tr := range exprVariables(a.Expr) {
		ra, ok := l.resourceOf(tr)
		if !ok || !contains(nodeTypes, ra.Type) {
			continue
		}
		if n, ok := l.Resources[ra]; ok {
			seen[n.Host] = true
		}
	}
	out := make([]string, 0, len(seen))
	for h := range seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// HostOf returns the host of the resource at ra ("" for the local one).
func (l *Lab) HostOf(ra addr.Resource) string {
	if r, ok := l.Resources[ra]; ok {
		return r.Host
	}
	return ""
}

// HostTargets lists the resources placed on host: its nodes, the links
// and firewall chains that follow them, and the links that reach it from
// other hosts. ok is false when no such host is declared.
func (l *Lab) HostTargets(host string) (ts []addr.Resource, ok bool) {
	if _, ok := l.Hosts[host]; !ok {
		return nil, false
	}
	for _, ra := range l.Order {
		r := l.Resources[ra]
		switch {
		case r.Host == host:
			ts = append(ts, ra)
		case r.Provider == providers.CrossHostProvider && contains(l.referencedHosts(r, "endpoints"), host):
			ts = append(ts, ra)
		}
	}
	return ts, true
}
