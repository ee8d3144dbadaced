package virtualbox

import (
	"context"
	"fmt"

	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.BatchReader = (*Provider)(nil)

// readParallelism bounds the VMs ReadMany reads at once when it cannot
// use the listing (the engine's own default for providers that do not
// batch).
const readParallelism = 10

// ReadMany refreshes VMs with one `VBoxManage list --long vms` instead of
// one showvminfo each (see listing.go). A VM the listing does not show
// is gone, as a showvminfo that finds no such machine says. A VM whose
// block does not parse, or lacks a field Read needs, is read with Read
// (showvminfo --machinereadable), and so is every VM when the listing
// call fails or its output is not recognized. One VM alone is read with
// Read: it costs one call either way, and the machine-readable format is
// the exact one. VMs with a config disk still cost a getextradata each
// (filesChanged): the listing shows no extradata.
func (p *Provider) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	resps := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	var l *listing
	if len(reqs) > 1 {
		if out, err := p.vb.run(ctx, "list", "--long", "vms"); err == nil {
			l, _ = parseListing(out) // nil when unrecognized: every VM falls back
		}
	}
	par.Limit(len(reqs), readParallelism, func(i int) {
		// The engine recovers a crash of Read, but not of a reader's
		// goroutines: this one is turned into the VM's error.
		defer func() {
			if r := recover(); r != nil {
				errs[i] = fmt.Errorf("the virtualbox provider crashed reading it: %v (a bug in labform)", r)
			}
		}()
		resps[i], errs[i] = p.readListed(ctx, reqs[i], l)
	})
	return resps, errs
}

// readListed reads one VM from the listing, or with Read when the listing
// cannot tell (l is nil when there is none).
func (p *Provider) readListed(ctx context.Context, req providers.ReadRequest, l *listing) (providers.ReadResponse, error) {
	if l == nil {
		return p.Read(ctx, req)
	}
	id := p.lab.IDFor(req.ID, req.Addr)
	name := p.nameOf(req.Private, req.Addr, id)
	info, found, err := l.lookup(name, readNICs(req.Prior))
	switch {
	case err != nil:
		return p.Read(ctx, req)
	case !found:
		return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
	}
	return p.readValue(ctx, req, id, name, info), nil
}
