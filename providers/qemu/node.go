package qemu

import (
	"path/filepath"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.ConsoleLogger = (*Provider)(nil)

// ConsoleLog is the log of the VM's serial port, kept when its console is
// telnet; "" for the other consoles, whose output labform does not see.
func (p *Provider) ConsoleLog(req providers.DescribeRequest) string {
	if req.Value != cty.NilVal && !req.Value.IsNull() && providers.String(req.Value, "console") != "telnet" {
		return ""
	}
	return filepath.Join(runDirOf(req.Lab.IDFor(req.ID, req.Addr)), consoleLogFile)
}
