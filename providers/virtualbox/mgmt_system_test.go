package virtualbox

import (
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/mgmtnet"
)

// TestSystem_managementAdapter: a VM on the management network gets one
// more NIC after its adapters (nic3 for two adapters), bridged to a veth
// whose peer is a port of the management bridge, with the next MAC;
// destroy removes the veth pair and the bridge. The VBoxManage calls are
// pinned in testdata/virtualbox/calls-mgmt.golden.
func TestSystem_managementAdapter(t *testing.T) {
	l := newVBLab(t, "m")
	l.Reg.Register(mgmtnet.New())
	var subnet netip.Prefix
	rng := rand.New(rand.NewSource(int64(os.Getpid())))
	for try := 0; ; try++ {
		subnet = netip.MustParsePrefix(fmt.Sprintf("198.%d.%d.0/24", 18+rng.Intn(2), rng.Intn(256)))
		if r, err := mgmtnet.OverlappingRoute(subnet, ""); err != nil {
			t.Fatal(err)
		} else if r == "" {
			break
		}
		if try > 50 {
			t.Fatal("no free test subnet")
		}
	}
	bridge := providers.ManagementBridge(l.LabID())
	t.Cleanup(func() {
		mgmtnet.Detach(providers.ManagementPort(l.ID("vm.r")))
		exec.Command("ip", "link", "del", bridge).Run()
	})
	src := fmt.Sprintf(`lab {
  name = %q
  management {
    subnet = %q
  }
}
provider "virtualbox" {
  vboxmanage = %q
}
vm "r" {
  provider     = virtualbox
  template     = %q
  adapters     = 2
  adapter_type = "virtio"
  mac_address  = "08:00:27:00:10:00"
}
`, l.Name, subnet, l.sim, l.tpl)
	if err := os.WriteFile(filepath.Join(l.Dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	l.calls()
	l.Apply(planner.NormalMode)
	id := l.ID("vm.r")
	info := l.info()
	if info["nic3"] != "bridged" || info["bridgeadapter3"] != managementAdapter(id) || info["macaddress3"] != "080027001002" ||
		info["nictype3"] != "virtio" || info["cableconnected3"] != "on" {
		t.Fatalf("the management NIC is not nic3 bridged to %s with MAC 080027001002: %v", managementAdapter(id), info)
	}
	if !mgmtnet.Attached(bridge, providers.ManagementPort(id)) {
		t.Errorf("%s is not a port of the management bridge %s", providers.ManagementPort(id), bridge)
	}
	if _, err := net.InterfaceByName(managementAdapter(id)); err != nil {
		t.Errorf("the adapter's host interface %s: %v", managementAdapter(id), err)
	}
	create := l.calls()

	// The management NIC's cable disconnected by hand: drift, rewired in
	// place.
	l.vbox("controlvm", l.Name+"-vm.r", "setlinkstate3", "off")
	_, plan := l.Plan(planner.NormalMode)
	if c := l.change(plan); c == nil || c.Action != planner.Update || c.Cost != providers.InPlace {
		t.Fatalf("a disconnected management NIC must plan an in-place update: %+v", c)
	}
	l.calls()
	l.Apply(planner.NormalMode)
	rewire := l.calls()
	if got := l.info(); got["cableconnected3"] != "on" || got["VMState"] != "running" {
		t.Fatalf("after the repair: %v", got)
	}
	l.Apply(planner.DestroyMode)
	for _, name := range []string{bridge, providers.ManagementPort(id), managementAdapter(id)} {
		if _, err := net.InterfaceByName(name); err == nil {
			t.Errorf("%s is left on the host after destroy", name)
		}
	}
	lfv := regexp.MustCompile(`lfv[0-9a-f]{12}`)
	golden.Check(t, "../../testdata/virtualbox/calls-mgmt.golden", []byte("# create\n"+lfv.ReplaceAllString(create, "lfv<hash>")+"\n# management cable reconnected (in place)\n"+lfv.ReplaceAllString(rewire, "lfv<hash>")+"\n# destroy\n"+lfv.ReplaceAllString(l.calls(), "lfv<hash>")))
}
