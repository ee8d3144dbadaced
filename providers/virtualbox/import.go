package virtualbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/labform/labform/providers"
)

var (
	_ providers.Importer = (*Provider)(nil)
	_ providers.Adopter  = (*Provider)(nil)
)

// ImportIDForm is the form of a VM's import ID.
func (p *Provider) ImportIDForm(string) string {
	return "the VirtualBox VM's name or UUID (`VBoxManage list vms` lists both); labform reads its state, memory, cpus and adapters, marks it as its own when the import is applied, and never touches its template"
}

// Import adopts a VirtualBox VM made outside labform, by name or UUID.
// It is read as a refresh reads a clone: its run state, memory, cpus and
// adapters against the configuration (adapters not bridged to the lab's
// ports show next to the state and are rewired in place). What showvminfo
// cannot tell (the template it came from, whether it is a linked clone)
// is taken as the configuration says. A VM that another labform object
// holds is refused.
func (p *Provider) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	info, err := p.info(ctx, req.ImportID)
	if isNotFound(err) {
		return providers.ImportResponse{}, fmt.Errorf("VBoxManage showvminfo finds no VM %q (VBoxManage list vms lists the VMs): %w", req.ImportID, err)
	}
	if err != nil {
		return providers.ImportResponse{}, err
	}
	name := info["name"]
	if name == "" {
		name = req.ImportID
	}
	if tpl := providers.String(req.Planned, "template"); name == tpl {
		return providers.ImportResponse{}, fmt.Errorf("%q is the template of %s: labform clones a template and never manages it", name, req.Addr)
	}
	out, err := p.vb.run(ctx, "getextradata", name, "labform/id")
	if err != nil {
		return providers.ImportResponse{}, err
	}
	if held := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Value:")); !strings.Contains(out, "No value set") && held != "" {
		return providers.ImportResponse{}, fmt.Errorf("the VM %q is already a labform object (extradata labform/id = %s); forget it there first (labform state rm)", name, held)
	}
	resp, err := p.Read(ctx, providers.ReadRequest{Type: req.Type, Addr: req.Addr, ID: req.ID, Prior: req.Planned, Private: privateOf(name)})
	if err != nil {
		return providers.ImportResponse{}, err
	}
	return providers.ImportResponse{State: resp.State, Private: resp.Private}, nil
}

// Adopt marks the imported VM with the lab, its address and its object
// ID, as Create marks a clone: Delete checks the mark.
func (p *Provider) Adopt(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	id := p.lab.IDFor(req.ID, req.Addr)
	name := p.nameOf(req.Private, req.Addr, id)
	for _, step := range [][]string{
		{"setextradata", name, "labform/lab", p.lab.Dir},
		{"setextradata", name, "labform/address", req.Addr},
		{"setextradata", name, "labform/id", id},
	} {
		if _, err := p.vb.run(ctx, step...); err != nil {
			return providers.ApplyResponse{}, fmt.Errorf("marking the imported VM %q: %w", name, err)
		}
	}
	return providers.ApplyResponse{State: req.Planned, Private: req.Private}, nil
}
