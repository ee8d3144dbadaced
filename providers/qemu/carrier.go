package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/labform/labform/providers"
)

var _ providers.CarrierSetter = (*Provider)(nil)

// SetCarrier plugs or pulls the cable at one of a VM's adapters with QMP
// set_link on its netdev (net<port>), which QEMU passes to the adapter:
// the guest sees carrier go and come, as it would a pulled cable. The
// tap's own state does not reach the guest. A VM that does not run (no
// QMP socket) is left alone: a start brings its links back with it.
func (p *Provider) SetCarrier(ctx context.Context, req providers.CarrierRequest) error {
	sock := filepath.Join(runDirOf(req.Lab.IDFor(req.ID, req.Addr)), qmpFile)
	if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	q, err := dialQMP(ctx, sock, p.timeout)
	if err != nil {
		return fmt.Errorf("%s: setting adapter %d's link %s: %w", req.Addr, req.Port, onOff(req.Up), err)
	}
	defer q.Close()
	if _, err := q.do("set_link", map[string]interface{}{"name": fmt.Sprintf("net%d", req.Port), "up": req.Up}); err != nil {
		return fmt.Errorf("%s: setting adapter %d's link %s: %w", req.Addr, req.Port, onOff(req.Up), err)
	}
	return nil
}

// onOff words a carrier for the error messages of set_link.
func onOff(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
