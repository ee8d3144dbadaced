package all

import (
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/link"
	"github.com/labform/labform/providers/mgmtnet"
	"github.com/labform/labform/providers/netfilter"
	"github.com/labform/labform/providers/qemu"
	// remote serves the objects placed on other hosts (host blocks).
	_ "github.com/labform/labform/providers/remote"
	"github.com/labform/labform/providers/virtualbox"
)

// Providers returns every provider. qemu comes before virtualbox, so it is
// the default provider of vm.
func Providers() []providers.Provider {
	return []providers.Provider{qemu.New(), virtualbox.New(), container.New(), link.New(), netfilter.New(), mgmtnet.New()}
}

// Registry returns a registry of all providers.
func Registry() *providers.Registry {
	r := providers.NewRegistry()
	for _, p := range Providers() {
		r.Register(p)
	}
	return r
}
