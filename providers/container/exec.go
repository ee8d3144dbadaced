package container

import (
	"path/filepath"

	"github.com/labform/labform/providers"
)

var _ providers.ConsoleLogger = (*Provider)(nil)

// ConsoleLog is the container's log: its init's stdout and stderr.
func (p *Provider) ConsoleLog(req providers.DescribeRequest) string {
	return filepath.Join(p.bundle(namesIn(req.Lab, req.ID, req.Addr, req.Private)), "container.log")
}
