package qemu

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.NodeAccess = (*Provider)(nil)

// ConsoleLog is the log of the VM's serial port, kept when its console is
// telnet; "" for the other consoles, whose output labform does not see.
func (p *Provider) ConsoleLog(req providers.NodeRequest) string {
	if req.State != cty.NilVal && !req.State.IsNull() && providers.String(req.State, "console") != "telnet" {
		return ""
	}
	return filepath.Join(runDirOf(p.lab.IDFor(req.ID, req.Addr)), consoleLogFile)
}

// Exec is not possible: labform's VMs have no guest agent.
func (p *Provider) Exec(ctx context.Context, req providers.NodeRequest, argv []string, timeout time.Duration) ([]byte, int, error) {
	return nil, -1, fmt.Errorf("%s: a vm runs no guest agent, so labform cannot run commands in it; probe it over the network from a container instead", req.Addr)
}
