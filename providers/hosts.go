package providers

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Host is a machine a lab places nodes on, declared by a host block: how
// labform reaches it over SSH and the address its VXLAN tunnels use.
type Host struct {
	Name         string
	SSH          string // user@address:port
	IdentityFile string
	KnownHosts   string
	Underlay     string // the address VXLAN tunnels leave from
	UnderlayMTU  int    // the MTU of the underlay; 1500 when not declared
}

// HostSep joins a provider's name and a host's: the provider that serves
// the objects placed on that host (container@edge1). State records keep
// this name, so each object's record says which host it lives on.
const HostSep = "@"

// HostedName is the name of base's provider on host; base itself for the
// local machine (host "").
func HostedName(base, host string) string {
	if host == "" {
		return base
	}
	return base + HostSep + host
}

// SplitHosted splits a provider name into the provider and the host.
func SplitHosted(name string) (base, host string) {
	base, host, _ = strings.Cut(name, HostSep)
	return base, host
}

// HostFactory makes the provider that serves base's objects on a remote
// host; the remote package sets it. CrossHostLinks makes the provider of
// links whose ends sit on different hosts.
var (
	HostFactory    func(base Provider, h Host) Provider
	CrossHostLinks func(r *Registry) Provider
)

// CrossHostProvider is the name of the provider of links across hosts.
const CrossHostProvider = "vxlan"

// AddHost registers, for every provider a host can run, the provider that
// serves it on h. Registering the same host again replaces its providers
// (its block may have changed).
func (r *Registry) AddHost(h Host) error {
	if HostFactory == nil {
		return fmt.Errorf("this labform cannot reach other hosts")
	}
	for _, name := range r.Names() {
		if name == ManagementProvider {
			continue
		}
		base := r.byName[name]
		p := HostFactory(base, h)
		hn := HostedName(name, h.Name)
		r.byName[hn] = p
		r.schemas[hn] = r.schemas[name]
		r.configSchemas[hn] = r.configSchemas[name]
	}
	if _, ok := r.byName[CrossHostProvider]; !ok && CrossHostLinks != nil {
		p := CrossHostLinks(r)
		schemas := p.Schemas()
		for _, typ := range slices.Sorted(maps.Keys(schemas)) {
			schemas[typ].Finalize()
		}
		r.byName[CrossHostProvider] = p
		r.schemas[CrossHostProvider] = schemas
		cs := p.ConfigSchema()
		finalizeBlock(cs, "provider.")
		r.configSchemas[CrossHostProvider] = cs
	}
	return nil
}

// hosted tells whether name is a provider for remote hosts or links
// across them: registered by AddHost, not listed among the providers.
func (r *Registry) hosted(name string) bool {
	return strings.Contains(name, HostSep) || name == CrossHostProvider
}

// BaseName is the provider a name serves objects of, without its host.
func BaseName(name string) string {
	base, _ := SplitHosted(name)
	return base
}

// hostedSchemas are the schemas of a provider on a host when no host
// block registered it (commands that read state without the lab's files):
// the local provider's, or the cross-host links'.
func (r *Registry) hostedSchemas(name string) (map[string]*Schema, bool) {
	if name == CrossHostProvider && CrossHostLinks != nil {
		schemas := CrossHostLinks(r).Schemas()
		for _, typ := range slices.Sorted(maps.Keys(schemas)) {
			schemas[typ].Finalize()
		}
		return schemas, true
	}
	base, host := SplitHosted(name)
	if host == "" {
		return nil, false
	}
	s, ok := r.schemas[base]
	return s, ok
}
