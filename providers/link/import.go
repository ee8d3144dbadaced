package link

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/labform/labform/providers"
	"github.com/vishvananda/netlink"
)

var _ providers.Importer = (*Provider)(nil)

// ImportIDForm is the form of a link's import ID.
func (p *Provider) ImportIDForm(string) string {
	return "`NETNS:BRIDGE`, such as `lf-campus:br0`: a bridge in the lab's namespace (`lf-<lab>`, where links live), which keeps its name; the endpoints' ports joined to it are read as the link's endpoints"
}

// Import adopts a bridge made outside labform in the lab's namespace as a
// link. It is read as a refresh reads a link: the configured endpoints
// whose ports are joined to the bridge, its mtu and state, and whether
// their shaping matches the impairment, so the plan shows what differs
// (an endpoint not joined yet, another mtu) and apply rewires it in
// place. The bridge keeps its name, recorded in the link's private data.
func (p *Provider) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	ns, name, ok := strings.Cut(req.ImportID, ":")
	if !ok || ns == "" || name == "" {
		return providers.ImportResponse{}, fmt.Errorf("a link's ID is NETNS:BRIDGE, such as %s:br0", p.labNetns())
	}
	if filepath.Base(ns) != p.labNetns() {
		return providers.ImportResponse{}, fmt.Errorf("the bridge is in namespace %s, but this lab's links live in %s", filepath.Base(ns), p.labNetns())
	}
	h, err := p.handle()
	if err != nil {
		return providers.ImportResponse{}, err
	}
	br, err := h.LinkByName(name)
	if err != nil {
		return providers.ImportResponse{}, fmt.Errorf("no interface %s in namespace %s: %w", name, p.labNetns(), err)
	}
	if _, isBridge := br.(*netlink.Bridge); !isBridge {
		return providers.ImportResponse{}, fmt.Errorf("%s in namespace %s is a %s, not a bridge", name, p.labNetns(), br.Type())
	}
	priv, _ := json.Marshal(private{Bridge: name})
	resps, errs := p.ReadMany(ctx, []providers.ReadRequest{{Type: req.Type, Addr: req.Addr, ID: req.ID, Prior: req.Planned, Private: priv}})
	if errs[0] != nil {
		return providers.ImportResponse{}, errs[0]
	}
	return providers.ImportResponse{State: resps[0].State, Private: priv}, nil
}
