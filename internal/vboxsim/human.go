package vboxsim

import (
	"fmt"
	"path/filepath"
	"strings"
)

// humanStates are showvminfo's human names of the simulated states
// (VBoxManageInfo.cpp, machineStateToName with fShort false).
var humanStates = map[string]string{
	"poweroff": "powered off", "saved": "saved", "aborted": "aborted", "running": "running", "paused": "paused",
}

// human is the machine's block of `list --long vms`: what showvminfo
// prints without --machinereadable (VMINFO_STANDARD), in VirtualBox 7.0's
// layout from VBoxManageInfo.cpp: each field "%-28s %s", the sections
// (storage controllers, snapshots, guest) as it prints them, and an empty
// line at the end. Fields the simulator does not model are given
// VirtualBox's defaults for a new VM.
func (m *machine) human() string {
	var b strings.Builder
	kv := func(label string, format string, args ...interface{}) {
		fmt.Fprintf(&b, "%-28s %s\n", label, fmt.Sprintf(format, args...))
	}
	onOff := func(on bool) string {
		if on {
			return "on"
		}
		return "off"
	}
	kv("Name:", "%s", m.Name)
	kv("Encryption:", "disabled")
	kv("Groups:", "/")
	kv("Guest OS:", "%s", m.OSType)
	kv("UUID:", "%s", m.UUID)
	kv("Config file:", "%s", m.CfgFile)
	kv("Snapshot folder:", "%s", filepath.Join(filepath.Dir(m.CfgFile), "Snapshots"))
	kv("Log folder:", "%s", filepath.Join(filepath.Dir(m.CfgFile), "Logs"))
	kv("Hardware UUID:", "%s", m.UUID)
	kv("Memory size:", "%dMB", m.Memory)
	kv("Page Fusion:", "disabled")
	kv("VRAM size:", "16MB")
	kv("CPU exec cap:", "100%%")
	kv("HPET:", "disabled")
	kv("CPUProfile:", "host")
	kv("Chipset:", "%s", m.Chipset)
	kv("Firmware:", "BIOS")
	kv("Number of CPUs:", "%d", m.CPUs)
	kv("PAE:", "enabled")
	kv("Long Mode:", "enabled")
	kv("CPUID overrides:", "None")
	kv("Boot menu mode:", "message and menu")
	kv("Boot Device 1:", "Floppy")
	kv("Boot Device 2:", "DVD")
	kv("Boot Device 3:", "HardDisk")
	kv("Boot Device 4:", "Not Assigned")
	kv("ACPI:", "enabled")
	kv("IOAPIC:", "enabled")
	kv("RTC:", "UTC")
	kv("Paravirt. Provider:", "Default")
	kv("Effective Paravirt. Prov.:", "KVM")
	kv("State:", "%s (since %s)", humanStates[m.State], m.StateChange)
	kv("Graphics Controller:", "VMSVGA")
	kv("Monitor count:", "1")
	kv("VM process priority:", "default")
	if len(m.Controllers) == 0 {
		kv("Storage Controllers:", "<none>")
	} else {
		b.WriteString("Storage Controllers:\n")
		for i, c := range m.Controllers {
			fmt.Fprintf(&b, "#%d: '%s', Type: %s, Instance: 0, Ports: %d (max 30), Bootable\n", i, c.Name, c.Type, c.Ports)
			for port := 0; port < c.Ports; port++ {
				switch med := m.Media[fmt.Sprintf("%s-%d-0", c.Name, port)]; med {
				case "":
				case "emptydrive":
					fmt.Fprintf(&b, "  Port %d, Unit 0: Empty\n", port)
				default:
					fmt.Fprintf(&b, "  Port %d, Unit 0: UUID: %s\n    Location: \"%s\"\n", port, newUUIDFor(m.UUID, med), med)
				}
			}
		}
	}
	max := 8
	if m.Chipset == "ich9" {
		max = 36
	}
	for i := 1; i <= max; i++ {
		label := fmt.Sprintf("NIC %d:", i)
		n := m.NICs[i]
		if n == nil || n.Attachment == "none" {
			kv(label, "disabled")
			continue
		}
		att := map[string]string{"null": "none", "nat": "NAT", "bridged": "Bridged Interface '" + n.Bridge + "'",
			"intnet": "Internal Network 'intnet'", "hostonly": "Host-only Interface 'vboxnet0'",
			"natnetwork": "NAT Network 'NatNetwork'", "generic": "Generic ''"}[n.Attachment]
		kv(label, "MAC: %s, Attachment: %s, Cable connected: %s, Trace: off (file: none), Type: %s, Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: deny, Bandwidth group: none",
			n.MAC, att, onOff(n.Cable), n.Type)
		if n.Attachment == "nat" {
			fmt.Fprintf(&b, "NIC %d Settings:  MTU: 0, Socket (send: 64, receive: 64), TCP Window (send:64, receive: 64)\n", i)
		}
	}
	kv("Pointing Device:", "PS/2 Mouse")
	kv("Keyboard Device:", "PS/2 Keyboard")
	if m.UART1 == "off" {
		kv("UART 1:", "disabled")
	} else {
		var io, irq string
		fmt.Sscanf(strings.Replace(m.UART1, ",", " ", 1), "%s %s", &io, &irq)
		mode, path, _ := strings.Cut(m.UARTMode1, ",")
		kv("UART 1:", "I/O address: %s, IRQ: %s, attached to pipe (%s) '%s', 16550A", io, irq, mode, path)
	}
	for i := 2; i <= 4; i++ {
		kv(fmt.Sprintf("UART %d:", i), "disabled")
	}
	kv("LPT 1:", "disabled")
	kv("LPT 2:", "disabled")
	kv("VRDE:", "disabled")
	kv("OHCI USB:", "disabled")
	kv("EHCI USB:", "disabled")
	kv("xHCI USB:", "disabled")
	kv("USB Device Filters:", "<none>")
	kv("Bandwidth groups:", "<none>")
	kv("Shared folders:", "<none>")
	kv("Recording status:", "stopped")
	kv("Recording enabled:", "no")
	kv("Recording screens:", "1")
	b.WriteString(" Screen 0:\n")
	kv("    Enabled:", "yes")
	if len(m.Snapshots) > 0 {
		b.WriteString("* Snapshots:\n")
		for i, s := range m.Snapshots {
			current := ""
			if i == len(m.Snapshots)-1 {
				current = " *"
			}
			fmt.Fprintf(&b, "   %sName: %s (UUID: %s)%s\n", strings.Repeat("   ", i), s, newUUIDFor(m.UUID, s), current)
		}
	}
	b.WriteString("* Guest:\n")
	kv("Configured memory balloon:", "0MB")
	b.WriteString("\n")
	return b.String()
}
