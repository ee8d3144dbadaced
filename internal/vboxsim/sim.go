package vboxsim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version is what --version prints: VirtualBox 7.0's form.
const Version = "7.0.20r163906"

const (
	exitFailure = 1 // RTEXITCODE_FAILURE
	exitSyntax  = 2 // RTEXITCODE_SYNTAX
)

type nic struct {
	Attachment string `json:"attachment"` // none, null, nat, bridged, intnet, hostonly
	Type       string `json:"type"`
	Bridge     string `json:"bridge,omitempty"`
	Cable      bool   `json:"cable"`
	MAC        string `json:"mac"`
}

type machine struct {
	Name            string            `json:"name"`
	UUID            string            `json:"uuid"`
	OSType          string            `json:"ostype"`
	State           string            `json:"state"` // poweroff, running, paused, saved, aborted
	StateChange     string            `json:"state_change"`
	Memory          int               `json:"memory"`
	CPUs            int               `json:"cpus"`
	Chipset         string            `json:"chipset"`
	NICs            map[int]*nic      `json:"nics"`
	UART1           string            `json:"uart1"`
	UARTMode1       string            `json:"uartmode1"`
	Snapshots       []string          `json:"snapshots"`
	Extra           map[string]string `json:"extra"`
	CfgFile         string            `json:"cfg"`
	Parent          string            `json:"parent,omitempty"` // a linked clone's template
	DiskLocation    string            `json:"disk"`
	SessionHeadless bool              `json:"headless"`
	// Controllers are the storage controllers (name to bus: ide, sata,
	// ...) in the order added; Media the attached media by
	// "controller-port-device" (a path, or "emptydrive").
	Controllers []controller      `json:"controllers,omitempty"`
	Media       map[string]string `json:"media,omitempty"`
}

type controller struct {
	Name, Bus, Type string
	Ports           int
}

type world struct {
	Machines map[string]*machine `json:"machines"` // by name
	home     string
}

func (w *world) find(nameOrUUID string) *machine {
	if m := w.Machines[nameOrUUID]; m != nil {
		return m
	}
	u := strings.Trim(nameOrUUID, "{}")
	for _, m := range w.Machines {
		if m.UUID == u {
			return m
		}
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func newMAC() string {
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("080027%02X%02X%02X", b[0], b[1], b[2])
}

// failure is a VBoxManage error: its lines, as VirtualBox prints them,
// and the exit code.
type failure struct {
	code  int
	lines []string
}

func (f *failure) Error() string { return strings.Join(f.lines, "\n") }

func fail(msg, code, iface string) *failure {
	return &failure{exitFailure, []string{"VBoxManage: error: " + msg,
		fmt.Sprintf("VBoxManage: error: Details: code %s, component %sWrap, interface I%s, callee nsISupports", code, iface, iface)}}
}

func syntax(format string, args ...interface{}) *failure {
	return &failure{exitSyntax, []string{"VBoxManage: error: " + fmt.Sprintf(format, args...)}}
}

func notFound(name string) *failure {
	f := fail(fmt.Sprintf("Could not find a registered machine named '%s'", name), "VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)", "VirtualBox")
	f.lines = append(f.lines, `VBoxManage: error: Context: "FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())" at line 2618 of file VBoxManageInfo.cpp`)
	return f
}

func locked(name string) *failure {
	return fail(fmt.Sprintf("The machine '%s' is already locked for a session (or being unlocked)", name), "VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)", "Machine")
}

func notRunning(name string) *failure {
	return fail(fmt.Sprintf("Machine '%s' is not currently running", name), "VBOX_E_INVALID_VM_STATE (0x80bb0002)", "Console")
}

// Main runs one VBoxManage command and returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	home := os.Getenv("VBOXSIM_HOME")
	if home == "" {
		fmt.Fprintln(stderr, "vboxsim: VBOXSIM_HOME is not set (the directory that holds the simulated machines)")
		return exitFailure
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	lock, err := os.OpenFile(filepath.Join(home, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	defer lock.Close()
	syscall.Flock(int(lock.Fd()), syscall.LOCK_EX) // one VBoxSVC: calls are serialized
	logCall(home, args)
	w := &world{Machines: map[string]*machine{}, home: home}
	if b, err := os.ReadFile(filepath.Join(home, "machines.json")); err == nil {
		json.Unmarshal(b, w)
	}
	out, err := w.run(args)
	io.WriteString(stdout, out)
	if err != nil {
		var f *failure
		if fe, ok := err.(*failure); ok {
			f = fe
		} else {
			f = &failure{exitFailure, []string{"VBoxManage: error: " + err.Error()}}
		}
		fmt.Fprintln(stderr, f.Error())
		return f.code
	}
	b, _ := json.MarshalIndent(w, "", " ")
	if err := os.WriteFile(filepath.Join(home, "machines.json"), b, 0o644); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	return 0
}

func logCall(home string, args []string) {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.ContainsAny(a, " \"'") {
			quoted[i] = strconv.Quote(a)
		}
	}
	f, err := os.OpenFile(filepath.Join(home, "calls.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintln(f, strings.Join(quoted, " "))
		f.Close()
	}
}

// busy consumes one pending lock failure of the machine, if any.
func (w *world) busy(name string) bool {
	path := filepath.Join(w.home, "busy", name)
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if n <= 0 {
		os.Remove(path)
		return false
	}
	os.WriteFile(path, []byte(strconv.Itoa(n-1)), 0o644)
	return true
}

func (w *world) run(args []string) (string, error) {
	if len(args) == 0 {
		return "", syntax("No command given")
	}
	switch args[0] {
	case "--version", "-v", "-version":
		return Version + "\n", nil
	case "list":
		return w.list(args[1:])
	case "createvm":
		return w.createvm(args[1:])
	}
	if len(args) < 2 {
		return "", syntax("%s: missing the VM name", args[0])
	}
	m := w.find(args[1])
	if m == nil {
		return "", notFound(args[1])
	}
	if w.busy(m.Name) {
		return "", locked(m.Name)
	}
	switch args[0] {
	case "showvminfo":
		if len(args) < 3 || args[2] != "--machinereadable" {
			return "", syntax("showvminfo: only --machinereadable is simulated")
		}
		return m.info(), nil
	case "modifyvm":
		return "", w.modifyvm(m, args[2:])
	case "startvm":
		return w.startvm(m, args[2:])
	case "controlvm":
		return w.controlvm(m, args[2:])
	case "snapshot":
		return w.snapshot(m, args[2:])
	case "clonevm":
		return w.clonevm(m, args[2:])
	case "setextradata":
		if len(args) != 4 {
			return "", syntax("setextradata: VM, key and value")
		}
		if args[3] == "" {
			delete(m.Extra, args[2])
		} else {
			m.Extra[args[2]] = args[3]
		}
		return "", nil
	case "getextradata":
		if len(args) != 3 {
			return "", syntax("getextradata: VM and key")
		}
		if v, ok := m.Extra[args[2]]; ok {
			return "Value: " + v + "\n", nil
		}
		return "No value set!\n", nil
	case "storagectl":
		return "", w.storagectl(m, args[2:])
	case "storageattach":
		return "", w.storageattach(m, args[2:])
	case "discardstate":
		if m.State != "saved" {
			return "", fail(fmt.Sprintf("Machine '%s' is not in the saved state", m.Name), "VBOX_E_INVALID_VM_STATE (0x80bb0002)", "Machine")
		}
		m.setState("poweroff")
		return "", nil
	case "unregistervm":
		if m.State == "running" || m.State == "paused" {
			f := fail(fmt.Sprintf("Cannot unregister the machine '%s' while it is locked", m.Name), "VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)", "Machine")
			return "", f
		}
		for _, o := range w.Machines {
			if o.Parent == m.Name {
				return "", fail(fmt.Sprintf("Cannot delete the machine '%s': the linked clone '%s' uses its disks", m.Name, o.Name), "VBOX_E_OBJECT_IN_USE (0x80bb000c)", "Machine")
			}
		}
		delete(w.Machines, m.Name)
		if len(args) > 2 && args[2] == "--delete" {
			return "0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n", nil
		}
		return "", nil
	}
	return "", syntax("Invalid command '%s'", args[0])
}

func (m *machine) setState(s string) {
	m.State = s
	m.StateChange = time.Now().UTC().Format("2006-01-02T15:04:05.000000000")
}

func (w *world) list(args []string) (string, error) {
	// --long (-l) and --sorted (-s) may come before or after what to list.
	long, what := false, ""
	for _, a := range args {
		switch a {
		case "--long", "-l":
			long = true
		case "--sorted", "-s":
		default:
			if what != "" {
				return "", syntax("list: unexpected '%s'", a)
			}
			what = a
		}
	}
	if what == "" {
		return "", syntax("list: what to list")
	}
	var b strings.Builder
	names := make([]string, 0, len(w.Machines))
	for n := range w.Machines {
		names = append(names, n)
	}
	sort.Strings(names)
	switch what {
	case "vms":
		for _, n := range names {
			if long {
				b.WriteString(w.Machines[n].human())
			} else {
				fmt.Fprintf(&b, "\"%s\" {%s}\n", n, w.Machines[n].UUID)
			}
		}
	case "runningvms":
		for _, n := range names {
			if st := w.Machines[n].State; st == "running" || st == "paused" {
				fmt.Fprintf(&b, "\"%s\" {%s}\n", n, w.Machines[n].UUID)
			}
		}
	case "systemproperties":
		for _, kv := range [][2]string{
			{"API version", "7_0"}, {"Minimum guest RAM size", "4 Megabytes"}, {"Maximum guest RAM size", "2097152 Megabytes"},
			{"Minimum guest CPU count", "1"}, {"Maximum guest CPU count", "64"},
			{"Default machine folder", filepath.Join(w.home, "VirtualBox VMs")},
			{"Maximum PIIX3 Network Adapter count", "8"}, {"Maximum ICH9 Network Adapter count", "36"},
			{"Maximum PIIX3 Serial Port count", "4"},
		} {
			fmt.Fprintf(&b, "%-34s %s\n", kv[0]+":", kv[1])
		}
	case "hdds":
		for _, n := range names {
			m := w.Machines[n]
			if m.DiskLocation == "" {
				continue
			}
			typ := "normal (base)"
			if m.Parent != "" {
				typ = "normal (differencing)"
			}
			fmt.Fprintf(&b, "UUID:           %s\nParent UUID:    base\nState:          created\nType:           %s\nLocation:       %s\nStorage format: VDI\nCapacity:       2048 MBytes\nEncryption:     disabled\n\n", m.UUID, typ, m.DiskLocation)
		}
	default:
		return "", syntax("list: unknown subcommand '%s'", what)
	}
	return b.String(), nil
}

func (w *world) createvm(args []string) (string, error) {
	name, ostype, register := "", "Other_64", false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--name":
			i++
			if i < len(args) {
				name = args[i]
			}
		case "--ostype":
			i++
			if i < len(args) {
				ostype = args[i]
			}
		case "--register":
			register = true
		case "--basefolder":
			i++
		}
	}
	if name == "" {
		return "", syntax("createvm: --name is required")
	}
	if w.Machines[name] != nil {
		return "", fail(fmt.Sprintf("Machine settings file '%s' already exists", w.cfg(name)), "VBOX_E_FILE_ERROR (0x80bb0004)", "VirtualBox")
	}
	m := w.newMachine(name)
	m.OSType = ostype
	if register {
		w.Machines[name] = m
	}
	return fmt.Sprintf("Virtual machine '%s' is created and registered.\nUUID: %s\nSettings file: '%s'\n", name, m.UUID, m.CfgFile), nil
}

func (w *world) cfg(name string) string {
	return filepath.Join(w.home, "VirtualBox VMs", name, name+".vbox")
}

func (w *world) newMachine(name string) *machine {
	m := &machine{Name: name, UUID: newUUID(), OSType: "Other_64", Memory: 128, CPUs: 1, Chipset: "piix3",
		NICs: map[int]*nic{1: {Attachment: "nat", Type: "82540EM", Cable: true, MAC: newMAC()}}, UART1: "off",
		Extra: map[string]string{}, CfgFile: w.cfg(name), DiskLocation: filepath.Join(w.home, "VirtualBox VMs", name, name+".vdi")}
	m.setState("poweroff")
	return m
}

func (w *world) maxNICs(m *machine) int {
	if m.Chipset == "ich9" {
		return 36
	}
	return 8
}

func (m *machine) info() string {
	var b strings.Builder
	kv := func(k string, v interface{}) {
		switch v := v.(type) {
		case int:
			fmt.Fprintf(&b, "%s=%d\n", k, v)
		default:
			fmt.Fprintf(&b, "%s=%q\n", k, v)
		}
	}
	kv("name", m.Name)
	kv("groups", "/")
	kv("ostype", m.OSType)
	kv("UUID", m.UUID)
	kv("CfgFile", m.CfgFile)
	kv("SnapFldr", filepath.Join(filepath.Dir(m.CfgFile), "Snapshots"))
	kv("LogFldr", filepath.Join(filepath.Dir(m.CfgFile), "Logs"))
	kv("memory", m.Memory)
	kv("cpus", m.CPUs)
	kv("chipset", m.Chipset)
	kv("firmware", "BIOS")
	kv("VMState", m.State)
	kv("VMStateChangeTime", m.StateChange)
	max := 8
	if m.Chipset == "ich9" {
		max = 36
	}
	for i := 1; i <= max; i++ {
		n := m.NICs[i]
		if n == nil || n.Attachment == "none" {
			kv(fmt.Sprintf("nic%d", i), "none")
			continue
		}
		kv(fmt.Sprintf("nic%d", i), n.Attachment)
		kv(fmt.Sprintf("nictype%d", i), n.Type)
		kv(fmt.Sprintf("nicspeed%d", i), "0")
		if n.Attachment == "bridged" {
			kv(fmt.Sprintf("bridgeadapter%d", i), n.Bridge)
		}
		kv(fmt.Sprintf("macaddress%d", i), n.MAC)
		cable := "off"
		if n.Cable {
			cable = "on"
		}
		kv(fmt.Sprintf("cableconnected%d", i), cable)
	}
	if m.UART1 == "off" {
		kv("uart1", "off")
	} else {
		kv("uart1", m.UART1)
		kv("uartmode1", m.UARTMode1)
	}
	for i, s := range m.Snapshots {
		suffix := ""
		if i > 0 {
			suffix = "-" + strings.Repeat("1-", i-1) + "1"
			suffix = strings.TrimSuffix(suffix, "-")
		}
		kv("SnapshotName"+suffix, s)
		kv("SnapshotUUID"+suffix, newUUIDFor(m.UUID, s))
	}
	for i, c := range m.Controllers {
		kv(fmt.Sprintf("storagecontrollername%d", i), c.Name)
		kv(fmt.Sprintf("storagecontrollertype%d", i), c.Type)
		kv(fmt.Sprintf("storagecontrollerportcount%d", i), c.Ports)
		for port := 0; port < c.Ports; port++ {
			key := fmt.Sprintf("%s-%d-0", c.Name, port)
			if med, ok := m.Media[key]; ok {
				kv(key, med)
			} else {
				kv(key, "none")
			}
		}
	}
	if len(m.Snapshots) > 0 {
		last := m.Snapshots[len(m.Snapshots)-1]
		kv("CurrentSnapshotName", last)
		kv("CurrentSnapshotUUID", newUUIDFor(m.UUID, last))
	}
	return b.String()
}

// newUUIDFor is a stable UUID for a snapshot, so showvminfo repeats it.
func newUUIDFor(vm, snap string) string {
	h := uint64(14695981039346656037)
	for _, c := range vm + "/" + snap {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(h), uint16(h>>32), uint16(h>>48)&0xfff, uint16(h>>20)&0xfff, h&0xffffffffffff)
}

var nicTypes = map[string]bool{"Am79C970A": true, "Am79C973": true, "Am79C960": true, "82540EM": true, "82543GC": true, "82545EM": true, "virtio": true}
var attachments = map[string]bool{"none": true, "null": true, "nat": true, "bridged": true, "intnet": true, "hostonly": true, "natnetwork": true, "generic": true}

// nicIndex reads the N of --nicN and friends.
func nicIndex(opt, prefix string) (int, bool) {
	if !strings.HasPrefix(opt, prefix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(opt, prefix))
	return n, err == nil
}

func (w *world) modifyvm(m *machine, args []string) error {
	if m.State == "running" || m.State == "paused" {
		return locked(m.Name)
	}
	if m.State == "saved" {
		return fail(fmt.Sprintf("The machine '%s' is in the saved state; discard the state or start the machine first", m.Name), "VBOX_E_INVALID_VM_STATE (0x80bb0002)", "Machine")
	}
	next := func(i *int) (string, error) {
		*i++
		if *i >= len(args) {
			return "", syntax("modifyvm: %s needs a value", args[*i-1])
		}
		return args[*i], nil
	}
	for i := 0; i < len(args); i++ {
		opt := args[i]
		val, err := next(&i)
		if err != nil {
			return err
		}
		atoi := func() (int, error) {
			n, err := strconv.Atoi(val)
			if err != nil {
				return 0, syntax("modifyvm: %s: '%s' is not a number", opt, val)
			}
			return n, nil
		}
		nicOf := func(prefix string) (*nic, error) {
			n, _ := nicIndex(opt, prefix)
			if n < 1 || n > w.maxNICs(m) {
				return nil, fail(fmt.Sprintf("Invalid NIC number %d (the %s chipset has %d)", n, m.Chipset, w.maxNICs(m)), "E_INVALIDARG (0x80070057)", "Machine")
			}
			if m.NICs[n] == nil {
				m.NICs[n] = &nic{Attachment: "none", Type: "82540EM", Cable: true, MAC: newMAC()}
			}
			return m.NICs[n], nil
		}
		switch {
		case opt == "--memory":
			if m.Memory, err = atoi(); err != nil {
				return err
			}
		case opt == "--cpus":
			if m.CPUs, err = atoi(); err != nil {
				return err
			}
		case opt == "--chipset":
			m.Chipset = val
		case opt == "--ostype":
			m.OSType = val
		case opt == "--uart1":
			if val == "off" {
				m.UART1 = "off"
				continue
			}
			irq, err := next(&i)
			if err != nil {
				return err
			}
			m.UART1 = strings.ToLower(fmt.Sprintf("0x%04s,%s", strings.TrimPrefix(strings.ToLower(val), "0x"), irq))
		case opt == "--uartmode1":
			if val == "server" || val == "client" || val == "file" || val == "tcpserver" {
				path, err := next(&i)
				if err != nil {
					return err
				}
				m.UARTMode1 = val + "," + path
			} else {
				m.UARTMode1 = val
			}
		case strings.HasPrefix(opt, "--nictype"):
			n, err := nicOf("--nictype")
			if err != nil {
				return err
			}
			if !nicTypes[val] {
				return syntax("Invalid NIC type '%s' specified for NIC %s", val, strings.TrimPrefix(opt, "--nictype"))
			}
			n.Type = val
		case strings.HasPrefix(opt, "--bridgeadapter"):
			n, err := nicOf("--bridgeadapter")
			if err != nil {
				return err
			}
			n.Bridge = val
		case strings.HasPrefix(opt, "--cableconnected"):
			n, err := nicOf("--cableconnected")
			if err != nil {
				return err
			}
			n.Cable = val == "on"
		case strings.HasPrefix(opt, "--macaddress"):
			n, err := nicOf("--macaddress")
			if err != nil {
				return err
			}
			if val == "auto" {
				n.MAC = newMAC()
			} else {
				n.MAC = strings.ToUpper(val)
			}
		case strings.HasPrefix(opt, "--nic"):
			n, err := nicOf("--nic")
			if err != nil {
				return err
			}
			if !attachments[val] {
				return syntax("Invalid type '%s' specfied for NIC %s", val, strings.TrimPrefix(opt, "--nic"))
			}
			n.Attachment = val
		default:
			return syntax("Unknown option: %s", opt)
		}
	}
	return nil
}

func (w *world) startvm(m *machine, args []string) (string, error) {
	typ := "gui"
	for i := 0; i < len(args); i++ {
		if args[i] == "--type" && i+1 < len(args) {
			typ = args[i+1]
			i++
		}
	}
	if typ != "gui" && typ != "headless" && typ != "separate" && typ != "sdl" {
		return "", syntax("Invalid session type '%s'", typ)
	}
	switch m.State {
	case "running", "paused":
		return "", locked(m.Name)
	}
	m.SessionHeadless = typ == "headless"
	m.setState("running")
	return fmt.Sprintf("Waiting for VM \"%s\" to power on...\nVM \"%s\" has been successfully started.\n", m.Name, m.Name), nil
}

func (w *world) controlvm(m *machine, args []string) (string, error) {
	if len(args) == 0 {
		return "", syntax("controlvm: what to do")
	}
	if m.State != "running" && m.State != "paused" {
		return "", notRunning(m.Name)
	}
	progress := "0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n"
	switch cmd := args[0]; {
	case cmd == "pause":
		m.setState("paused")
	case cmd == "resume":
		m.setState("running")
	case cmd == "poweroff":
		m.setState("poweroff")
		return progress, nil
	case cmd == "savestate":
		m.setState("saved")
		return progress, nil
	case cmd == "acpipowerbutton":
		// A guest that handles ACPI powers off; one marked to ignore it
		// (extradata sim/acpi = ignore, like a VM without an OS) does not.
		if m.State == "running" && m.Extra["sim/acpi"] != "ignore" {
			m.setState("poweroff")
		}
	case strings.HasPrefix(cmd, "setlinkstate"):
		n, ok := nicIndex(cmd, "setlinkstate")
		if !ok || m.NICs[n] == nil || len(args) < 2 {
			return "", syntax("controlvm: %s needs a NIC that exists and on or off", cmd)
		}
		m.NICs[n].Cable = args[1] == "on"
	case strings.HasPrefix(cmd, "nic") && !strings.HasPrefix(cmd, "nictrace"):
		n, ok := nicIndex(cmd, "nic")
		if !ok || n < 1 || n > w.maxNICs(m) || len(args) < 2 || !attachments[args[1]] {
			return "", syntax("controlvm: %s: a NIC number and an attachment type", cmd)
		}
		if m.NICs[n] == nil || m.NICs[n].Attachment == "none" {
			return "", fail(fmt.Sprintf("NIC %d is not present in this machine's configuration; add it with modifyvm while powered off", n), "E_INVALIDARG (0x80070057)", "Console")
		}
		m.NICs[n].Attachment = args[1]
		if args[1] == "bridged" {
			if len(args) < 3 {
				return "", syntax("controlvm: %s bridged needs a host interface", cmd)
			}
			m.NICs[n].Bridge = args[2]
		}
	default:
		return "", syntax("Invalid parameter '%s'", cmd)
	}
	return "", nil
}

func (w *world) snapshot(m *machine, args []string) (string, error) {
	if len(args) < 1 {
		return "", syntax("snapshot: what to do")
	}
	switch args[0] {
	case "take":
		if len(args) < 2 {
			return "", syntax("snapshot take: a name")
		}
		m.Snapshots = append(m.Snapshots, args[1])
		return fmt.Sprintf("0%%...10%%...20%%...30%%...40%%...50%%...60%%...70%%...80%%...90%%...100%%\nSnapshot taken. UUID: %s\n", newUUIDFor(m.UUID, args[1])), nil
	case "list":
		if len(m.Snapshots) == 0 {
			return "This machine does not have any snapshots\n", nil
		}
		var b strings.Builder
		for _, s := range m.Snapshots {
			fmt.Fprintf(&b, "   Name: %s (UUID: %s)\n", s, newUUIDFor(m.UUID, s))
		}
		return b.String(), nil
	}
	return "", syntax("snapshot: unknown subcommand '%s'", args[0])
}

func (w *world) clonevm(src *machine, args []string) (string, error) {
	var name, snap string
	link, register := false, false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--name":
			i++
			if i < len(args) {
				name = args[i]
			}
		case "--snapshot":
			i++
			if i < len(args) {
				snap = args[i]
			}
		case "--options":
			i++
			if i < len(args) {
				link = strings.Contains(args[i], "link")
			}
		case "--register":
			register = true
		case "--basefolder", "--mode", "--uuid":
			i++
		default:
			return "", syntax("clonevm: unknown option %s", args[i])
		}
	}
	if name == "" {
		name = src.Name + " Clone"
	}
	if w.Machines[name] != nil {
		return "", fail(fmt.Sprintf("Machine settings file '%s' already exists", w.cfg(name)), "VBOX_E_FILE_ERROR (0x80bb0004)", "VirtualBox")
	}
	if link && snap == "" {
		return "", fail("Linked clone can only be created from a snapshot", "E_INVALIDARG (0x80070057)", "Machine")
	}
	if snap != "" {
		found := false
		for _, s := range src.Snapshots {
			found = found || s == snap
		}
		if !found {
			return "", fail(fmt.Sprintf("Could not find a snapshot named '%s'", snap), "VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)", "Machine")
		}
	}
	c := w.newMachine(name)
	c.OSType, c.Memory, c.CPUs, c.Chipset = src.OSType, src.Memory, src.CPUs, src.Chipset
	c.NICs = map[int]*nic{}
	for i, n := range src.NICs {
		cp := *n
		cp.MAC = newMAC()
		c.NICs[i] = &cp
	}
	if link {
		c.Parent = src.Name
	}
	if register {
		w.Machines[name] = c
	}
	return fmt.Sprintf("0%%...10%%...20%%...30%%...40%%...50%%...60%%...70%%...80%%...90%%...100%%\nMachine has been successfully cloned as \"%s\"\n", name), nil
}

// options reads --name value pairs.
func options(cmd string, args []string) (map[string]string, error) {
	o := map[string]string{}
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "--") {
			return nil, syntax("%s: unexpected '%s'", cmd, args[i])
		}
		if args[i] == "--remove" {
			o["remove"] = "on"
			continue
		}
		if i+1 >= len(args) {
			return nil, syntax("%s: %s needs a value", cmd, args[i])
		}
		o[strings.TrimPrefix(args[i], "--")] = args[i+1]
		i++
	}
	return o, nil
}

// controllerTypes are the --controller values of each --add bus.
var controllerTypes = map[string]map[string]bool{
	"ide":  {"PIIX3": true, "PIIX4": true, "ICH6": true},
	"sata": {"IntelAhci": true},
	"scsi": {"LSILogic": true, "BusLogic": true},
}

// storagectl adds (--add bus --controller type --portcount n) or removes
// (--remove) a storage controller of a powered-off VM.
func (w *world) storagectl(m *machine, args []string) error {
	o, err := options("storagectl", args)
	if err != nil {
		return err
	}
	if m.State == "running" || m.State == "paused" {
		return locked(m.Name)
	}
	name := o["name"]
	if name == "" {
		return syntax("storagectl: --name is required")
	}
	idx := -1
	for i, c := range m.Controllers {
		if c.Name == name {
			idx = i
		}
	}
	if o["remove"] != "" {
		if idx < 0 {
			return fail(fmt.Sprintf("Could not find a storage controller named '%s'", name), "VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)", "Machine")
		}
		m.Controllers = append(m.Controllers[:idx], m.Controllers[idx+1:]...)
		for k := range m.Media {
			if strings.HasPrefix(k, name+"-") {
				delete(m.Media, k)
			}
		}
		return nil
	}
	bus, typ := o["add"], o["controller"]
	if controllerTypes[bus] == nil || !controllerTypes[bus][typ] {
		return syntax("storagectl: invalid --add %q --controller %q", bus, typ)
	}
	if idx >= 0 {
		return fail(fmt.Sprintf("Storage controller named '%s' already exists", name), "VBOX_E_OBJECT_IN_USE (0x80bb000c)", "Machine")
	}
	ports := 1
	if n, err := strconv.Atoi(o["portcount"]); err == nil && n > 0 {
		ports = n
	}
	m.Controllers = append(m.Controllers, controller{Name: name, Bus: bus, Type: typ, Ports: ports})
	return nil
}

// storageattach attaches a medium: --storagectl --port --device --type
// dvddrive|hdd --medium path|emptydrive|none. A DVD's medium may change
// while the VM runs; anything else needs it powered off.
func (w *world) storageattach(m *machine, args []string) error {
	o, err := options("storageattach", args)
	if err != nil {
		return err
	}
	var c *controller
	for i := range m.Controllers {
		if m.Controllers[i].Name == o["storagectl"] {
			c = &m.Controllers[i]
		}
	}
	if c == nil {
		return fail(fmt.Sprintf("Could not find a controller named '%s'", o["storagectl"]), "VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)", "Machine")
	}
	port, err := strconv.Atoi(o["port"])
	if err != nil || port < 0 || port >= c.Ports {
		return fail(fmt.Sprintf("The port number %s is out of range [0:%d]", o["port"], c.Ports-1), "E_INVALIDARG (0x80070057)", "Machine")
	}
	key := fmt.Sprintf("%s-%d-%s", c.Name, port, o["device"])
	_, attached := m.Media[key]
	if (m.State == "running" || m.State == "paused") && !(attached && o["type"] == "dvddrive") {
		return locked(m.Name)
	}
	med := o["medium"]
	switch {
	case med == "none":
		delete(m.Media, key)
		return nil
	case med == "emptydrive" && o["type"] == "dvddrive":
	case o["type"] != "dvddrive" && o["type"] != "hdd":
		return syntax("storageattach: invalid --type %q", o["type"])
	default:
		if _, err := os.Stat(med); err != nil {
			return fail(fmt.Sprintf("Could not find file for the medium '%s' (VERR_FILE_NOT_FOUND)", med), "VBOX_E_FILE_ERROR (0x80bb0004)", "Medium")
		}
	}
	if m.Media == nil {
		m.Media = map[string]string{}
	}
	m.Media[key] = med
	return nil
}
