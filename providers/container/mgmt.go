package container

import (
	"net/netip"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/mgmtnet"
	"github.com/zclconf/go-cty/cty"
)

// A container on the lab's management network (providers/mgmt.go) has one
// more interface, mgmt0, a veth whose peer is a port of the management
// bridge in the host's namespace, with the container's mgmt_address and
// mgmt_address6 on it and no route beyond the subnet: the container's own
// routes stay as the lab writes them. Its /etc/hosts is the lab's hosts
// file, bind-mounted read-only, as Docker does, so that every node answers
// to its name.

// hasManagement reports whether v puts the container on the management
// network.
func hasManagement(v cty.Value) bool {
	v4, v6 := providers.ManagementAddresses(v)
	return v4 != "" || v6 != ""
}

// addManagementMount binds the lab's hosts file at /etc/hosts, read-only,
// unless the lab mounts something there itself.
func (p *Provider) addManagementMount(spec *specs.Spec, v cty.Value) {
	if !hasManagement(v) {
		return
	}
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) == "/etc/hosts" {
			return
		}
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/etc/hosts", Type: "bind",
		Source: p.lab.ManagementHostsFile(), Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}})
}

// syncManagement gives the container's namespace its management interface
// with v's addresses, or takes it away when v has none.
func (p *Provider) syncManagement(objectID string, n names, v cty.Value) error {
	port := providers.ManagementPort(objectID)
	if !hasManagement(v) {
		return mgmtnet.Detach(port)
	}
	v4, v6 := providers.ManagementAddresses(v)
	return mgmtnet.AttachContainer(n.netns, providers.ManagementBridge(p.lab.Key()), mgmtnet.Group(p.lab.Key()), port, v4, v6)
}

// readManagement is drift of the management interface: its host side gone
// or off the bridge, or its addresses changed by hand, shows as the
// addresses it has now ("" for none), which apply puts right in place.
//
// A container found without a record (its lab's state was lost) has its
// management addresses unknown in prior: they are read from mgmt0.
func (p *Provider) readManagement(objectID string, n names, prior cty.Value, m map[string]cty.Value) {
	if !prior.GetAttr("mgmt_address").IsKnown() || !prior.GetAttr("mgmt_address6").IsKnown() {
		live, _ := mgmtnet.ContainerAddresses(n.netns)
		for i, name := range []string{"mgmt_address", "mgmt_address6"} {
			if prior.GetAttr(name).IsKnown() {
				continue
			}
			m[name] = cty.NullVal(cty.String)
			for _, a := range live {
				if a.Addr().Is6() == (i == 1) {
					m[name] = cty.StringVal(a.Addr().String())
					break
				}
			}
		}
		return
	}
	if !hasManagement(prior) {
		return
	}
	live, err := mgmtnet.ContainerAddresses(n.netns)
	if err != nil {
		return // the namespace itself is read elsewhere
	}
	bridge := providers.ManagementBridge(p.lab.Key())
	attached := mgmtnet.Attached(bridge, providers.ManagementPort(objectID))
	for i, name := range []string{"mgmt_address", "mgmt_address6"} {
		want := providers.String(prior, name)
		if want == "" {
			continue
		}
		// The subnet's length changed with the address kept (a /24 made
		// a /25): mgmt0 still has the old length. Shown with its length,
		// as drift, apply puts it right in place.
		wantLen := -1
		if pfx, err := mgmtnet.NodePrefixes(bridge, want); err == nil && len(pfx) == 1 {
			wantLen = pfx[0].Bits()
		}
		var got []string
		wrongLen := false
		for _, a := range live {
			if a.Addr().Is6() == (i == 1) {
				s := a.Addr().String()
				if wantLen >= 0 && a.Bits() != wantLen && s == want {
					s, wrongLen = a.String(), true
				}
				got = append(got, s)
			}
		}
		if !attached || wrongLen || !containsAddr(got, want) {
			m[name] = cty.StringVal(strings.Join(got, " "))
		}
	}
}

func containsAddr(list []string, want string) bool {
	w, err := netip.ParseAddr(want)
	if err != nil {
		return false
	}
	for _, s := range list {
		if a, err := netip.ParseAddr(s); err == nil && a == w {
			return true
		}
	}
	return false
}

// removeManagement deletes the host side of the management interface now
// (a create that failed halfway); a deleted container's goes with its
// namespace, and the management network's delete removes any left.
func removeManagement(objectID string) error {
	return mgmtnet.Detach(providers.ManagementPort(objectID))
}
