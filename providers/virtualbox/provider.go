package virtualbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/cidata"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/mgmtnet"
	"github.com/zclconf/go-cty/cty"
)

// nicTypes maps adapter_type to VBoxManage's --nictype values: GNS3's
// names, or the values themselves.
var nicTypes = map[string]string{
	"Am79C970A": "Am79C970A", "PCnet-PCI II (Am79C970A)": "Am79C970A",
	"Am79C973": "Am79C973", "PCnet-FAST III (Am79C973)": "Am79C973",
	"82540EM": "82540EM", "Intel PRO/1000 MT Desktop (82540EM)": "82540EM",
	"82543GC": "82543GC", "Intel PRO/1000 T Server (82543GC)": "82543GC",
	"82545EM": "82545EM", "Intel PRO/1000 MT Server (82545EM)": "82545EM",
	"virtio": "virtio", "Paravirtualized Network (virtio-net)": "virtio",
}

// saved is VirtualBox's fourth run state: stopped with its memory on
// disk, resumed where it was.
const saved providers.RunState = "saved"

// vmStates are the allowed values of state.
var vmStates = append(slices.Clone(providers.RunStates), string(saved))

func (p *Provider) Configure(_ context.Context, req providers.ConfigureRequest) error {
	p.lab = req.Lab
	if v := req.Config; !v.IsNull() {
		if s := providers.String(v, "vboxmanage"); s != "" {
			p.vb.path = s
		}
	}
	var err error
	p.vb.timeout, err = providers.ToolTimeout(req.Config)
	return err
}

func (p *Provider) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	if typ != "vm" || !v.IsKnown() || v.IsNull() {
		return nil
	}
	// VirtualBox's largest chipset (ich9) has 36 NICs; apply checks the
	// VM's own chipset, which may have fewer.
	errs := providers.ValidateCommonVM(v, 36)
	if n := num(v, "adapter_start_index"); v.GetAttr("adapter_start_index").IsKnown() && n < 0 {
		errs = append(errs, &providers.AttrError{Path: cty.GetAttrPath("adapter_start_index"), Summary: "Invalid adapter_start_index", Detail: "0 or more."})
	}
	return errs
}

func num(v cty.Value, name string) int { return int(providers.Number(v, name)) }

// vmName is the name a new clone gets: the lab's and the address, and
// for an object in another slot than its address's first (the new VM of
// a create_before_destroy, which lives beside the old one) its ID. The
// name is recorded in the object's private data at create, and found
// there afterwards: a VM moved to another address (state mv) keeps it.
func (p *Provider) vmName(addr, id string) string {
	if id == providers.ObjectID(p.lab.Key(), addr, 0) {
		return p.lab.Name + "-" + addr
	}
	return p.lab.Name + "-" + addr + "-" + id[:6]
}

// private is what labform records about a clone.
type private struct {
	Name string `json:"name"`
}

// nameOf is the clone's recorded name, or the one it would have been given.
func (p *Provider) nameOf(priv []byte, addr, id string) string {
	var pv private
	if json.Unmarshal(priv, &pv) == nil && pv.Name != "" {
		return pv.Name
	}
	return p.vmName(addr, id)
}

func privateOf(name string) []byte {
	b, _ := json.Marshal(private{Name: name})
	return b
}

// hostPort is the host end of port n's veth pair, which the bridged
// adapter attaches to; the lab end is labnet.PortName, which links join.
func (p *Provider) hostPort(id string, n int) string {
	return "lfh" + strings.TrimPrefix(labnet.PortPrefix(id), "lfp") + strconv.Itoa(n)
}

func (p *Provider) pipe(id string) string {
	return filepath.Join(p.lab.WorkDir, id[:12]+".pipe")
}

// checkAPI reads the system properties once and refuses VirtualBox
// before 4.3 (API version 4_3), as GNS3 does.
func (p *Provider) checkAPI(ctx context.Context) error {
	p.once.Do(func() {
		out, err := p.vb.run(ctx, "list", "systemproperties")
		if err != nil {
			p.propsErr = err
			return
		}
		p.props = systemProperties(out)
		api := p.props["API version"]
		f, err := strconv.ParseFloat(strings.Replace(api, "_", ".", 1), 64)
		if err != nil || f < 4.3 {
			p.propsErr = fmt.Errorf("VirtualBox's API version is %q; labform needs 4.3 or later", api)
		}
	})
	return p.propsErr
}

// maxAdapters is the chipset's NIC count: 8 for piix3, and for ich9 what
// VirtualBox reports.
func (p *Provider) maxAdapters(chipset string) int {
	if chipset == "ich9" {
		if n, err := strconv.Atoi(p.props["Maximum ICH9 Network Adapter count"]); err == nil {
			return n
		}
		return 36
	}
	return 8
}

func (p *Provider) info(ctx context.Context, name string) (machineInfo, error) {
	out, err := p.vb.run(ctx, "showvminfo", name, "--machinereadable")
	if err != nil {
		return nil, err
	}
	return parseMachineReadable(out), nil
}

func isNotFound(err error) bool {
	var ve *vboxError
	return errors.As(err, &ve) && ve.notFound()
}

// settings are modifyvm's arguments for the value: memory, cpus, the
// serial console on a pipe, and each adapter bridged to its port's host
// veth, cable connected.
func (p *Provider) settings(id string, v cty.Value) []string {
	a := []string{"--memory", strconv.Itoa(num(v, "memory")), "--cpus", strconv.Itoa(num(v, "cpus"))}
	if providers.String(v, "console") == "none" {
		a = append(a, "--uart1", "off")
	} else {
		a = append(a, "--uart1", "0x3F8", "4", "--uartmode1", "server", p.pipe(id))
	}
	typ := nicTypes[providers.String(v, "adapter_type")]
	if typ == "" {
		typ = "82540EM"
	}
	macs := p.macs(v)
	for i := 0; i < num(v, "adapters"); i++ {
		k := strconv.Itoa(num(v, "adapter_start_index") + i + 1)
		a = append(a, "--nic"+k, "bridged", "--nictype"+k, typ, "--bridgeadapter"+k, p.hostPort(id, i), "--cableconnected"+k, "on")
		if macs != nil {
			a = append(a, "--macaddress"+k, macs[i])
		}
	}
	return append(a, p.managementSettings(id, v, typ)...)
}

// macs: adapter n gets base + n (providers.MACAt), in VirtualBox's form
// (12 hex digits); nil leaves VirtualBox's own.
func (p *Provider) macs(v cty.Value) []string {
	b, ok := providers.BaseMAC(providers.String(v, "mac_address"))
	if !ok {
		return nil
	}
	out := make([]string, num(v, "adapters"))
	for i := range out {
		out[i] = vboxMAC(b, i)
	}
	return out
}

// vboxMAC is base + n as VBoxManage writes it: 12 uppercase hex digits.
func vboxMAC(base uint64, n int) string {
	return fmt.Sprintf("%X", []byte(providers.MACAt(base, n)))
}

// ports makes sure each port's veth pair exists: host end for the
// bridged adapter, lab end for links.
func (p *Provider) ports(id string, n int) error {
	if n == 0 {
		return nil
	}
	labNS := providers.LabNetns(p.lab.Name)
	labnet.Lock(p.lab.Name)
	defer labnet.Unlock(p.lab.Name)
	if err := labnet.EnsureNetns(labNS); err != nil {
		return err
	}
	links, err := labnet.Links(labNS)
	if err != nil {
		return err
	}
	missing := false
	for i := 0; i < n; i++ {
		if _, err := net.InterfaceByName(p.hostPort(id, i)); err != nil || !links[labnet.PortName(id, i)] {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	if err := labnet.DeletePorts(labNS, labnet.PortPrefix(id)); err != nil {
		return err
	}
	return labnet.AddHostPorts(labNS, n, func(i int) string { return labnet.PortName(id, i) },
		func(i int) string { return p.hostPort(id, i) })
}

func (p *Provider) Create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := p.checkAPI(ctx); err != nil {
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	id := p.lab.IDFor(req.ID, req.Addr)
	v, name := req.Planned, p.vmName(req.Addr, id)
	tpl := providers.String(v, "template")
	info, err := p.info(ctx, tpl)
	if err != nil {
		if isNotFound(err) {
			err = fmt.Errorf("template %q is not a registered VirtualBox VM (see VBoxManage list vms): %w", tpl, err)
		}
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	first, n := num(v, "adapter_start_index"), num(v, "adapters")
	if onManagement(v) {
		n++ // the management NIC
	}
	if max := p.maxAdapters(info["chipset"]); first+n > max {
		return providers.ApplyResponse{}, providers.NothingDone(fmt.Errorf("adapters %d from index %d need %d NICs; the %s chipset of %q has %d", n, first, first+n, info["chipset"], tpl, max))
	}
	clone := []string{"clonevm", tpl}
	if !v.GetAttr("linked_clone").False() {
		snap := info["CurrentSnapshotName"]
		if snap == "" {
			snap = "labform-base"
			if _, err := p.vb.run(ctx, "snapshot", tpl, "take", snap); err != nil {
				return providers.ApplyResponse{}, providers.NothingDone(err)
			}
		}
		clone = append(clone, "--snapshot", snap, "--options", "link")
	}
	clone = append(clone, "--name", name, "--register")
	if _, err := p.vb.run(ctx, clone...); err != nil {
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	for _, step := range [][]string{
		{"setextradata", name, "labform/lab", p.lab.Dir},
		{"setextradata", name, "labform/address", req.Addr},
		{"setextradata", name, "labform/id", id},
		{"snapshot", name, "take", "reset"},
	} {
		if _, err := p.vb.run(ctx, step...); err != nil {
			return providers.ApplyResponse{}, err
		}
	}
	if err := p.managementPorts(id, cty.NullVal(v.Type()), v); err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := p.ports(id, num(v, "adapters")); err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("ports: %w", err)
	}
	if _, err := p.vb.run(ctx, append([]string{"modifyvm", name}, p.settings(id, v)...)...); err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := p.configDisk(ctx, req.Addr, name, id, v, nil); err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := p.setState(ctx, name, "poweroff", v); err != nil {
		return providers.ApplyResponse{}, err
	}
	return p.readBack(ctx, req.Addr, id, name, v)
}

// readBack is the value after an apply, as showvminfo tells it.
func (p *Provider) readBack(ctx context.Context, addr, id, name string, v cty.Value) (providers.ApplyResponse, error) {
	resp, err := p.Read(ctx, providers.ReadRequest{Type: "vm", Addr: addr, ID: id, Prior: v, Private: privateOf(name)})
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	if resp.State.IsNull() {
		return providers.ApplyResponse{}, fmt.Errorf("the VM %q vanished right after apply", name)
	}
	return providers.ApplyResponse{State: resp.State, Private: privateOf(name)}, nil
}

// liveState maps VirtualBox's VMState to labform's states.
func liveState(vmState string) providers.RunState {
	switch vmState {
	case "poweroff", "aborted":
		return providers.Stopped
	}
	return providers.RunState(vmState) // running, paused, saved; starting, stopping, ...: shown as they are
}

// setState takes the VM from VirtualBox's state to the value's.
func (p *Provider) setState(ctx context.Context, name, from string, v cty.Value) error {
	want := providers.StateOf(v)
	typ := "gui"
	if v.GetAttr("headless").True() {
		typ = "headless"
	}
	run := func(args ...string) error { _, err := p.vb.run(ctx, args...); return err }
	cur := liveState(from)
	if cur == want {
		return nil
	}
	switch want {
	case providers.Running:
		if cur == providers.Paused {
			return run("controlvm", name, "resume")
		}
		return run("startvm", name, "--type", typ)
	case providers.Paused:
		if cur != providers.Running {
			if err := run("startvm", name, "--type", typ); err != nil {
				return err
			}
		}
		return run("controlvm", name, "pause")
	case saved:
		if cur == providers.Stopped {
			if err := run("startvm", name, "--type", typ); err != nil {
				return err
			}
		}
		return run("controlvm", name, "savestate")
	case providers.Stopped:
		return p.powerOff(ctx, name, from, num(v, "shutdown_timeout"))
	}
	return fmt.Errorf("unknown state %q", want)
}

// powerOff stops a VM, from its VMState (VirtualBox's words): a saved state is discarded; a running VM gets the
// ACPI power button and shutdown_timeout seconds, then a hard power off.
func (p *Provider) powerOff(ctx context.Context, name, from string, timeout int) error {
	switch from {
	case "saved":
		_, err := p.vb.run(ctx, "discardstate", name)
		return err
	case "running":
		if _, err := p.vb.run(ctx, "controlvm", name, "acpipowerbutton"); err == nil {
			deadline := time.Now().Add(time.Duration(timeout) * time.Second)
			for {
				info, err := p.info(ctx, name)
				if err == nil && liveState(info["VMState"]) == providers.Stopped {
					return nil
				}
				if time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		fallthrough
	case "paused":
		_, err := p.vb.run(ctx, "controlvm", name, "poweroff")
		return err
	}
	return nil
}

func (p *Provider) Update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	id := p.lab.IDFor(req.ID, req.Addr)
	name, v := p.nameOf(req.Private, req.Addr, id), req.Planned
	info, err := p.info(ctx, name)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := p.managementPorts(id, req.Prior, v); err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := p.ports(id, num(v, "adapters")); err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("ports: %w", err)
	}
	from := info["VMState"]
	if req.Cost == providers.Restart || (from == "poweroff" || from == "aborted") && !p.wired(id, v, info) {
		// modifyvm needs a powered-off machine: stop it first, and never
		// send modifyvm to a running one.
		if liveState(from) != providers.Stopped {
			if err := p.powerOff(ctx, name, from, num(req.Prior, "shutdown_timeout")); err != nil {
				return providers.ApplyResponse{}, err
			}
			from = "poweroff"
		}
		if _, err := p.vb.run(ctx, append([]string{"modifyvm", name}, p.settings(id, v)...)...); err != nil {
			return providers.ApplyResponse{}, err
		}
		if err := p.configDisk(ctx, req.Addr, name, id, v, info); err != nil {
			return providers.ApplyResponse{}, err
		}
	} else if !p.wired(id, v, info) {
		// A running VM is rewired in place: controlvm, no restart.
		for i := 0; i < num(v, "adapters"); i++ {
			k := strconv.Itoa(num(v, "adapter_start_index") + i + 1)
			if _, err := p.vb.run(ctx, "controlvm", name, "nic"+k, "bridged", p.hostPort(id, i)); err != nil {
				return providers.ApplyResponse{}, err
			}
			if _, err := p.vb.run(ctx, "controlvm", name, "setlinkstate"+k, "on"); err != nil {
				return providers.ApplyResponse{}, err
			}
		}
		if err := p.rewireManagement(ctx, name, id, v); err != nil {
			return providers.ApplyResponse{}, err
		}
	}
	if err := p.setState(ctx, name, from, v); err != nil {
		return providers.ApplyResponse{}, err
	}
	return p.readBack(ctx, req.Addr, id, name, v)
}

// wired reports whether every adapter is bridged to its port's host veth
// with the cable connected, and the veth is there.
func (p *Provider) wired(id string, v cty.Value, info machineInfo) bool {
	return len(p.miswired(id, v, info)) == 0
}

func (p *Provider) miswired(id string, v cty.Value, info machineInfo) []string {
	var bad []string
	for i := 0; i < num(v, "adapters"); i++ {
		k := strconv.Itoa(num(v, "adapter_start_index") + i + 1)
		host := p.hostPort(id, i)
		switch {
		case info["nic"+k] != "bridged" || info["bridgeadapter"+k] != host:
			bad = append(bad, "nic"+k+" not bridged to "+host)
		case info["cableconnected"+k] != "on":
			bad = append(bad, "nic"+k+" cable disconnected")
		default:
			if _, err := net.InterfaceByName(host); err != nil {
				bad = append(bad, "port "+host+" missing")
			}
		}
	}
	return append(bad, p.managementMiswired(id, v, info)...)
}

// Delete powers the clone off, unregisters it with its disks and removes
// its ports. It checks the clone's extradata first: labform never deletes
// a VM it did not create, and never the template.
func (p *Provider) Delete(ctx context.Context, req providers.ApplyRequest) error {
	id := p.lab.IDFor(req.ID, req.Addr)
	name := p.nameOf(req.Private, req.Addr, id)
	info, err := p.info(ctx, name)
	switch {
	case isNotFound(err):
	case err != nil:
		return err
	default:
		// The clone is marked with its object ID (and, by labform
		// before IDs, its address): anything else is not this object.
		key, want := "labform/id", id
		out, err := p.vb.run(ctx, "getextradata", name, key)
		if err == nil && strings.Contains(out, "No value set") {
			key, want = "labform/address", req.Addr
			out, err = p.vb.run(ctx, "getextradata", name, key)
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(strings.TrimPrefix(out, "Value:")) != want {
			return fmt.Errorf("the VirtualBox VM %q is not marked as this object (getextradata %s says %q, want %q); labform leaves it alone", name, key, strings.TrimSpace(out), want)
		}
		switch info["VMState"] {
		case "running", "paused":
			if _, err := p.vb.run(ctx, "controlvm", name, "poweroff"); err != nil {
				return err
			}
		case "saved":
			if _, err := p.vb.run(ctx, "discardstate", name); err != nil {
				return err
			}
		}
		if _, err := p.vb.run(ctx, "unregistervm", name, "--delete"); err != nil {
			return err
		}
	}
	labnet.Lock(p.lab.Name)
	defer labnet.Unlock(p.lab.Name)
	if err := labnet.DeletePorts(providers.LabNetns(p.lab.Name), labnet.PortPrefix(id)); err != nil {
		return err
	}
	os.Remove(p.pipe(id))
	os.Remove(p.configDiskPath(id))
	labnet.RemoveLabIfEmpty(p.lab.Name)
	if onManagement(req.Prior) {
		return mgmtnet.Detach(providers.ManagementPort(id))
	}
	return nil
}

// Read is showvminfo: the VM's state, memory, cpus and NICs. A VM powered
// off behind labform's back reads as stopped; adapters no longer bridged
// to their ports are noted next to the state, which apply repairs in
// place (controlvm while it runs).
func (p *Provider) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	id := p.lab.IDFor(req.ID, req.Addr)
	name := p.nameOf(req.Private, req.Addr, id)
	info, err := p.info(ctx, name)
	if isNotFound(err) {
		return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
	}
	if err != nil {
		return providers.ReadResponse{}, err
	}
	return p.readValue(ctx, req, id, name, info), nil
}

// readValue is the VM's live value from its showvminfo keys (from
// showvminfo --machinereadable, or its block of list --long vms).
func (p *Provider) readValue(ctx context.Context, req providers.ReadRequest, id, name string, info machineInfo) providers.ReadResponse {
	m := req.Prior.AsValueMap()
	m["memory"] = cty.NumberIntVal(int64(info.int("memory")))
	m["cpus"] = cty.NumberIntVal(int64(info.int("cpus")))
	st := string(liveState(info["VMState"]))
	if bad := p.miswired(id, req.Prior, info); len(bad) > 0 {
		st += " (" + strings.Join(bad, "; ") + ")"
	}
	m["state"] = cty.StringVal(st)
	m["pid"] = cty.NullVal(cty.Number)
	if !m["console_port"].IsKnown() {
		m["console_port"] = cty.NullVal(cty.Number)
	}
	var macs []cty.Value
	for i := 0; i < num(req.Prior, "adapters"); i++ {
		k := strconv.Itoa(num(req.Prior, "adapter_start_index") + i + 1)
		if hw := info["macaddress"+k]; len(hw) == 12 {
			macs = append(macs, cty.StringVal(colonMAC(hw)))
		}
	}
	m["mac_addresses"] = cty.ListValEmpty(cty.String)
	if len(macs) > 0 {
		m["mac_addresses"] = cty.ListVal(macs)
	}
	resp := providers.ReadResponse{State: cty.ObjectVal(m), Private: privateOf(name)}
	if cidata.Wanted(req.Prior) {
		resp.Restart = p.filesChanged(ctx, name, req.Prior)
	}
	return resp
}

// readNICs are the NICs (1-based, as VBoxManage counts) whose keys
// readValue looks at: the adapters' and the management NIC.
func readNICs(v cty.Value) []int {
	var out []int
	for i := 0; i < num(v, "adapters"); i++ {
		out = append(out, num(v, "adapter_start_index")+i+1)
	}
	if n := managementNIC(v); n != 0 {
		out = append(out, n)
	}
	return out
}

// colonMAC writes VirtualBox's form of a MAC address (12 hex digits) as
// labform shows them: 08:00:27:aa:bb:cc.
func colonMAC(hw string) string {
	var parts []string
	for j := 0; j+2 <= len(hw); j += 2 {
		parts = append(parts, strings.ToLower(hw[j:j+2]))
	}
	return strings.Join(parts, ":")
}

// configDiskController is the storage controller labform adds for the
// config disk: a SATA controller of its own, so that the template's
// controllers and their ports stay as they are.
const configDiskController = "labform-cidata"

// configDiskPath is where the VM's config disk image is written.
func (p *Provider) configDiskPath(id string) string {
	return filepath.Join(p.lab.WorkDir, id[:12]+".cidata.iso")
}

// configDisk builds the VM's config disk (file blocks and cloud_init; see
// providers/cidata) and attaches it as a DVD on a controller of its own,
// or removes that controller when the VM has none. The VM is powered
// off. info is the VM's showvminfo, nil for a new clone.
func (p *Provider) configDisk(ctx context.Context, addr, name, id string, v cty.Value, info machineInfo) error {
	has := false
	for k, val := range info {
		if strings.HasPrefix(k, "storagecontrollername") && val == configDiskController {
			has = true
		}
	}
	iso := p.configDiskPath(id)
	if !cidata.Wanted(v) {
		if has {
			if _, err := p.vb.run(ctx, "storagectl", name, "--name", configDiskController, "--remove"); err != nil {
				return err
			}
			if _, err := p.vb.run(ctx, "setextradata", name, configDiskKey, ""); err != nil {
				return err
			}
		}
		os.Remove(iso)
		return nil
	}
	d, err := cidata.FromValue(v, p.lab.Dir)
	if err != nil {
		return err
	}
	d.Identify(id, addr)
	if err := providers.PrivateDir(p.lab.WorkDir); err != nil {
		return err
	}
	if err := d.Write(iso); err != nil {
		return err
	}
	if !has {
		if _, err := p.vb.run(ctx, "storagectl", name, "--name", configDiskController, "--add", "sata", "--controller", "IntelAhci", "--portcount", "1"); err != nil {
			return err
		}
	}
	if _, err := p.vb.run(ctx, "storageattach", name, "--storagectl", configDiskController, "--port", "0", "--device", "0", "--type", "dvddrive", "--medium", iso); err != nil {
		return err
	}
	// What refresh compares the file blocks' sources with.
	_, err = p.vb.run(ctx, "setextradata", name, configDiskKey, d.Digest())
	return err
}

// configDiskKey is the extradata that records the digest of the config
// disk the VM has (cidata.Disk.Digest).
const configDiskKey = "labform/cidata"

// filesChanged says why the VM must restart when the files its config
// disk would hold now (the file blocks' sources read again) differ from
// the ones it has; "" when they are the same or it has none.
func (p *Provider) filesChanged(ctx context.Context, name string, v cty.Value) string {
	out, err := p.vb.run(ctx, "getextradata", name, configDiskKey)
	if err != nil || strings.Contains(out, "No value set") {
		return ""
	}
	d, err := cidata.FromValue(v, p.lab.Dir)
	if err != nil {
		return fmt.Sprintf("its file blocks cannot be read again (%v)", err)
	}
	if d.Digest() != strings.TrimSpace(strings.TrimPrefix(out, "Value:")) {
		return "a source of its file blocks changed since its config disk was built; it is built again"
	}
	return ""
}
