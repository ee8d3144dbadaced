package qemu

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Files in a VM's working directory.
const (
	qmpFile = "qmp.sock"
	qgaFile = "qga.sock" // the guest agent's channel (guest_agent = true)
	pidFile = "qemu.pid"
	// consoleLogFile logs a telnet console's serial port.
	consoleLogFile = "console.log"
	logFile        = "qemu.log"
	ciDataFile     = "cidata.iso" // the config disk
	firstTapFD     = 3            // the taps are handed to QEMU as fds 3, 4, ...
)

// pciSlotsPerBus is a PCI bus's slots; adapters beyond the root bus go
// behind bridges, one per 32 device ids, as GNS3 does.
const pciSlotsPerBus = 32

// firstPCISlot is the first slot the VM's own devices get on the root bus
// (host bridge, ISA bridge, IDE and ACPI take the first; the rest is
// left so that the root bus also has room for every bridge).
const firstPCISlot = 8

// opt escapes a value inside a -option key=value list: QEMU doubles commas.
func opt(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// argv is the qemu-system command line for c, without the binary. It
// never goes through a shell: every element is one argument.
func argv(c *vmConfig) []string {
	a := []string{"-name", opt(c.Addr)}
	if !containsArg(c.Extra, "-uuid") {
		a = append(a, "-uuid", c.UUID)
	}
	switch c.Platform {
	case "aarch64", "arm":
		a = append(a, "-machine", "virt", "-accel", c.Accel)
		if c.Accel == "tcg" {
			a = append(a, "-cpu", "max")
		}
	default:
		a = append(a, "-accel", c.Accel)
	}
	a = append(a, "-m", strconv.Itoa(c.Memory)+"M", "-smp", "cpus="+strconv.Itoa(c.CPUs),
		"-nodefaults", "-no-user-config",
		"-qmp", "unix:"+opt(filepath.Join(c.RunDir, qmpFile))+",server=on,wait=off",
		"-pidfile", filepath.Join(c.RunDir, pidFile), "-daemonize")
	if c.Paused {
		a = append(a, "-S")
	}

	// Disks.
	pci := firstPCISlot
	sata, scsi := false, false
	for i, d := range c.Disks {
		file := "file=" + opt(d.Path) + ",format=" + d.Format
		switch d.Interface {
		case "ide", "virtio":
			if d.Interface == "virtio" {
				pci++
			}
			a = append(a, "-drive", fmt.Sprintf("%s,if=%s,index=%d,media=disk,id=drive-%s", file, d.Interface, i, d.Slot))
		case "sata":
			if !sata {
				a = append(a, "-device", "ahci,id=ahci0")
				sata = true
				pci++
			}
			a = append(a, "-drive", fmt.Sprintf("%s,if=none,id=drive-%s", file, d.Slot),
				"-device", fmt.Sprintf("ide-hd,drive=drive-%s,bus=ahci0.%d", d.Slot, i))
		case "scsi":
			if !scsi {
				a = append(a, "-device", "virtio-scsi-pci,id=scsi0")
				scsi = true
				pci++
			}
			a = append(a, "-drive", fmt.Sprintf("%s,if=none,id=drive-%s", file, d.Slot),
				"-device", fmt.Sprintf("scsi-hd,drive=drive-%s,bus=scsi0.0,scsi-id=%d", d.Slot, i))
		}
	}
	if c.CDROM != "" {
		a = append(a, "-drive", "file="+opt(c.CDROM)+",if=ide,index=2,media=cdrom,readonly=on")
	}
	if c.CIData != "" {
		// The config disk: a cdrom on IDE index 3 (hdd's place), which
		// cloud-init finds by its label.
		a = append(a, "-drive", "file="+opt(c.CIData)+",if=ide,index=3,media=cdrom,readonly=on,format=raw,id=cidata")
	}
	if c.BIOS != "" {
		a = append(a, "-bios", c.BIOS)
	}
	if c.Kernel != "" {
		a = append(a, "-kernel", c.Kernel)
		if c.Initrd != "" {
			a = append(a, "-initrd", c.Initrd)
		}
		if c.KernelArgs != "" {
			a = append(a, "-append", c.KernelArgs)
		}
	}
	a = append(a, "-boot", "order="+c.BootOrder)

	// Console.
	switch c.Console {
	case "telnet":
		// The serial port is also logged, for ready blocks' console
		// conditions (ConsoleLog); QEMU truncates the log at each start.
		a = append(a, "-display", "none",
			"-chardev", fmt.Sprintf("socket,id=console0,host=127.0.0.1,port=%d,server=on,wait=off,telnet=on,logfile=%s", c.Port, opt(filepath.Join(c.RunDir, consoleLogFile))),
			"-serial", "chardev:console0")
	case "vnc":
		a = append(a, "-vga", "std", "-vnc", fmt.Sprintf("127.0.0.1:%d", c.Port-5900))
	case "spice":
		a = append(a, "-vga", "qxl", "-display", "none", "-spice", fmt.Sprintf("addr=127.0.0.1,port=%d,disable-ticketing=on", c.Port))
	default:
		a = append(a, "-display", "none")
	}

	// Adapters: each a tap in the lab's namespace, opened by labform and
	// handed over as a file descriptor. Nothing else: no user-mode network.
	bridges := 0
	for n, mac := range c.nics() { // the adapters, then the management NIC
		dev := fmt.Sprintf("%s,mac=%s,netdev=net%d", c.NIC, mac, n)
		if id := pci; id >= pciSlotsPerBus {
			bridge := id / pciSlotsPerBus
			for bridges < bridge {
				bridges++
				a = append(a, "-device", fmt.Sprintf("i82801b11-bridge,id=dmi_pci_bridge%d", bridges),
					"-device", fmt.Sprintf("pci-bridge,id=pci-bridge%d,bus=dmi_pci_bridge%d,chassis_nr=%d,addr=0x%x,shpc=off", bridges, bridges, bridges, bridges))
			}
			dev += fmt.Sprintf(",bus=pci-bridge%d,addr=0x%02x", bridge, id%pciSlotsPerBus)
		}
		pci++
		a = append(a, "-netdev", fmt.Sprintf("tap,id=net%d,fd=%d", n, firstTapFD+n), "-device", dev)
	}
	if c.GuestAgent {
		a = append(a, "-chardev", "socket,id=qga0,path="+opt(filepath.Join(c.RunDir, qgaFile))+",server=on,wait=off",
			"-device", "virtio-serial-pci,id=qga-serial0", "-device", "virtserialport,bus=qga-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0")
	}
	return append(a, c.Extra...)
}

// containsArg tells whether extra_args already give flag, so that the
// user's own -uuid wins over the one labform derives from the ID.
func containsArg(args []string, flag string) bool {
	for _, x := range args {
		if x == flag {
			return true
		}
	}
	return false
}
