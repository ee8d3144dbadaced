// Package all registers every real provider. The CLI uses it; tests of the
// generic engine build registries of their own.
package all

import (
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/link"
	"github.com/labform/labform/providers/netfilter"
	"github.com/labform/labform/providers/qemu"
	"github.com/labform/labform/providers/virtualbox"
)

// Registry returns a registry of all providers. qemu comes before
// virtualbox, so it is the default provider of vm.
func Registry() *providers.Registry {
	r := providers.NewRegistry()
	r.Register(qemu.New())
	r.Register(virtualbox.New())
	r.Register(container.New())
	r.Register(link.New())
	r.Register(netfilter.New())
	return r
}
