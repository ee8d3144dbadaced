package virtualbox

import (
	"maps"
	"strings"
	"testing"
)

// listing61 is `VBoxManage list --long vms` of VirtualBox 6.1 for one
// running VM. Its layout is that of real output: a 6.1 listing a user
// posted to the systeminformation project's tracker in January 2021
// (Name .. Number of CPUs, "Memory size" without its colon, "State:
// running (since ...)"), and the NIC lines of a 6.1 showvminfo in a
// Vagrant debug log posted to Vagrant's tracker in 2020 (a NAT NIC with
// its Settings and Rule lines, a host-only and a bridged one); the
// names, UUIDs, MACs and paths are made up.
const listing61 = `Name:                        router-1
Groups:                      /
Guest OS:                    Linux 2.6 / 3.x / 4.x (64-bit)
UUID:                        6f1c2a54-3b7e-4d2a-9c1e-2f4b8a9d0e11
Config file:                 /home/lab/VirtualBox VMs/router-1/router-1.vbox
Snapshot folder:             /home/lab/VirtualBox VMs/router-1/Snapshots
Log folder:                  /home/lab/VirtualBox VMs/router-1/Logs
Hardware UUID:               6f1c2a54-3b7e-4d2a-9c1e-2f4b8a9d0e11
Memory size                  4096MB
Page Fusion:                 disabled
VRAM size:                   128MB
CPU exec cap:                100%
HPET:                        disabled
CPUProfile:                  host
Chipset:                     piix3
Firmware:                    BIOS
Number of CPUs:              1
PAE:                         disabled
Long Mode:                   enabled
State:                       running (since 2021-01-04T09:31:57.888000000)
Monitor count:               1
Storage Controllers:
#0: 'IDE', Type: PIIX4, Instance: 0, Ports: 2 (max 2), Bootable
  Port 0, Unit 0: UUID: 0a7d2f40-1b2c-4d5e-8f90-a1b2c3d4e5f6
    Location: "/home/lab/VirtualBox VMs/router-1/router-1.vdi"
NIC 1:                       MAC: 0238EE24C964, Attachment: NAT, Cable connected: on, Trace: off (file: none), Type: 82540EM, Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: deny, Bandwidth group: none
NIC 1 Settings:  MTU: 0, Socket (send: 64, receive: 64), TCP Window (send:64, receive: 64)
NIC 1 Rule(0):   name = ssh, protocol = tcp, host ip = , host port = 2222, guest ip = , guest port = 22
NIC 2:                       MAC: 08002739BBCC, Attachment: Host-only Interface 'vboxnet0', Cable connected: on, Trace: off (file: none), Type: 82540EM, Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: deny, Bandwidth group: none
NIC 3:                       MAC: 080027F17555, Attachment: Bridged Interface 'lfh0123abcd0', Cable connected: off, Trace: off (file: none), Type: virtio, Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: deny, Bandwidth group: none
NIC 4:                       disabled
NIC 5:                       disabled
NIC 6:                       disabled
NIC 7:                       disabled
NIC 8:                       disabled
Pointing Device:             PS/2 Mouse
UART 1:                      disabled
Shared folders:

Name: 'vagrant', Host path: '/home/lab/src' (machine mapping), writable

* Snapshots:
   Name: base (UUID: 9b0c1d2e-3f40-4152-8637-48596a7b8c9d) *
`

// listing70 is `VBoxManage list --long vms` of VirtualBox 7.0 for two
// VMs. No captured 7.x listing was found; the blocks follow the format
// strings of showVMInfo in VirtualBox 7's VBoxManageInfo.cpp: "Memory
// size:" with its colon, an "Encryption:" line after the name, every
// field "%-28s %s", "NIC %u:" either "disabled" or "MAC: %ls, Attachment:
// %s, Cable connected: %s, Trace: %s (file: %ls), Type: %s, ...", state
// names from machineStateToName, and each block ending in an empty line.
const listing70 = `Name:                        lab-vm.a
Encryption:                  disabled
Groups:                      /
Guest OS:                    Other Linux (64-bit)
UUID:                        0d9e8f7a-6b5c-4d3e-8f21-0a1b2c3d4e5f
Config file:                 /root/VirtualBox VMs/lab-vm.a/lab-vm.a.vbox
Memory size:                 256MB
Page Fusion:                 disabled
Chipset:                     piix3
Number of CPUs:              2
State:                       paused (since 2024-05-02T10:11:12.000000000)
Storage Controllers:
#0: 'labform-cidata', Type: IntelAhci, Instance: 0, Ports: 1 (max 30), Bootable
  Port 0, Unit 0: UUID: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
    Location: "/lab/.labform/virtualbox/0123456789ab.cidata.iso"
NIC 1:                       MAC: 080027001000, Attachment: Bridged Interface 'lfh01234567890', Cable connected: on, Trace: off (file: none), Type: virtio, Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: deny, Bandwidth group: none
NIC 2:                       MAC: 080027001001, Attachment: Bridged Interface 'lfh01234567891', Cable connected: on, Trace: off (file: none), Type: virtio, Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: deny, Bandwidth group: none
NIC 3:                       disabled
UART 1:                      I/O address: 0x03f8, IRQ: 4, attached to pipe (server) '/lab/.labform/virtualbox/0123456789ab.pipe', 16550A
Bandwidth groups:            <none>
Shared folders:              <none>
* Snapshots:
   Name: reset (UUID: 5c4d3e2f-1a0b-4c9d-8e7f-6a5b4c3d2e1f) *
* Guest:
Configured memory balloon:   0MB

Name:                        lab-vm.b
Encryption:                  disabled
Groups:                      /lab
Guest OS:                    Other Linux (64-bit)
UUID:                        7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9
Memory size:                 128MB
Number of CPUs:              1
State:                       powered off (since 2024-05-02T09:00:00.000000000)
NIC 1:                       MAC: 0800270A0B0C, Attachment: none, Cable connected: off, Trace: off (file: none), Type: 82540EM, Reported speed: 0 Mbps, Boot priority: 0, Promisc Policy: deny, Bandwidth group: none
NIC 2:                       disabled
* Guest:
Configured memory balloon:   0MB

`

// TestParseListing reads each sample's VMs into showvminfo
// --machinereadable's keys, and refuses what it does not recognize.
func TestParseListing(t *testing.T) {
	vmB := machineInfo{"VMState": "poweroff", "memory": "128", "cpus": "1", "nic1": "null", "macaddress1": "0800270A0B0C",
		"cableconnected1": "off", "nic2": "none"}
	for _, tc := range []struct {
		name    string
		out     string
		parseOK bool
		vm      string
		nics    []int
		want    machineInfo // nil: not found, or not readable
		found   bool
		lookErr string // what the lookup error says, "" for none
	}{
		{name: "6.1", out: listing61, parseOK: true, vm: "router-1", nics: []int{1, 2, 3, 4}, found: true, want: machineInfo{
			"VMState": "running", "memory": "4096", "cpus": "1",
			"nic1": "nat", "macaddress1": "0238EE24C964", "cableconnected1": "on",
			"nic2": "hostonly", "macaddress2": "08002739BBCC", "cableconnected2": "on",
			"nic3": "bridged", "bridgeadapter3": "lfh0123abcd0", "macaddress3": "080027F17555", "cableconnected3": "off",
			"nic4": "none", "nic5": "none", "nic6": "none", "nic7": "none", "nic8": "none"}},
		{name: "7.0 first VM", out: listing70, parseOK: true, vm: "lab-vm.a", nics: []int{1, 2}, found: true, want: machineInfo{
			"VMState": "paused", "memory": "256", "cpus": "2",
			"nic1": "bridged", "bridgeadapter1": "lfh01234567890", "macaddress1": "080027001000", "cableconnected1": "on",
			"nic2": "bridged", "bridgeadapter2": "lfh01234567891", "macaddress2": "080027001001", "cableconnected2": "on",
			"nic3": "none"}},
		{name: "7.0 second VM", out: listing70, parseOK: true, vm: "lab-vm.b", nics: []int{1, 2}, found: true, want: vmB},
		{name: "not listed", out: listing70, parseOK: true, vm: "lab-vm.c", nics: []int{1}},
		{name: "no VM registered", out: "", parseOK: true, vm: "lab-vm.a"},
		{name: "a NIC it needs is not listed", out: listing70, parseOK: true, vm: "lab-vm.b", nics: []int{1, 3}, lookErr: "no NIC 3 line"},
		{name: "a block without its memory", out: strings.Replace(listing70, "Memory size:                 128MB\n", "", 1),
			parseOK: true, vm: "lab-vm.b", lookErr: "no memory"},
		{name: "the other VM's block is still read", out: strings.Replace(listing70, "Memory size:                 128MB\n", "", 1),
			parseOK: true, vm: "lab-vm.a", nics: []int{1}, found: true},
		{name: "an unknown state", out: strings.Replace(listing70, "powered off (since", "frobbing (since", 1),
			parseOK: true, vm: "lab-vm.b", lookErr: `unknown state "frobbing`},
		{name: "a description repeating a field", out: strings.Replace(listing70, "* Guest:\nConfigured memory balloon:   0MB\n\nName:",
			"Description:\nState:                       running (since 2024-05-02T10:11:12.000000000)\n* Guest:\n\nName:", 1),
			parseOK: true, vm: "lab-vm.a", lookErr: "VMState given twice"},
		{name: "an unknown attachment", out: strings.Replace(listing70, "Attachment: none,", "Attachment: Frobnicated 'x',", 1),
			parseOK: true, vm: "lab-vm.b", lookErr: "unknown attachment"},
		{name: "a NIC line in another layout", out: strings.Replace(listing70, "NIC 2:                       disabled", "NIC 2: disabled", 1),
			parseOK: true, vm: "lab-vm.b", lookErr: "unexpected layout"},
		{name: "two VMs of one name", out: listing70 + strings.SplitAfterN(listing70, "\n\n", 2)[1], parseOK: true, vm: "lab-vm.b", lookErr: "2 VMs are named"},
		{name: "an inaccessible VM: a VM not listed may be it", parseOK: true, vm: "lab-vm.c",
			out:     listing70 + "Name:            <inaccessible!>\nUUID:            1d2e3f40-5162-4738-a9b0-c1d2e3f40516\nConfig file:     /gone/x.vbox\nAccess error details:\nVBoxManage: error: Could not find file\n\n",
			lookErr: "inaccessible"},
		{name: "an inaccessible VM: the listed ones are read", parseOK: true, vm: "lab-vm.b", nics: []int{1, 2}, found: true, want: vmB,
			out: "Name:            <inaccessible!>\nUUID:            1d2e3f40-5162-4738-a9b0-c1d2e3f40516\n\n" + listing70},
		// VirtualBox before 6.0 padded labels to 16 columns.
		{name: "the 5.x layout", out: "Name:            old\nGroups:          /\nMemory size:     1024MB\n"},
		// A translated VBoxManage: no label the parser knows.
		{name: "a translated listing", out: strings.ReplaceAll(listing70, "Name:      ", "Nom :      ")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := parseListing(tc.out)
			if (err == nil) != tc.parseOK {
				t.Fatalf("parseListing: err %v, want ok %v", err, tc.parseOK)
			}
			if err != nil {
				return
			}
			info, found, err := l.lookup(tc.vm, tc.nics)
			if tc.lookErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.lookErr) {
					t.Fatalf("lookup: err %v, want one saying %q", err, tc.lookErr)
				}
				return
			}
			if err != nil || found != tc.found {
				t.Fatalf("lookup: found %v, err %v; want found %v", found, err, tc.found)
			}
			if tc.want != nil && !maps.Equal(info, tc.want) {
				t.Errorf("got  %v\nwant %v", info, tc.want)
			}
		})
	}
}

// TestField: a label is padded to 28 columns and followed by one space.
func TestField(t *testing.T) {
	for _, tc := range []struct {
		line, label, want string
		ok                bool
	}{
		{"Memory size:                 1024MB", "Memory size:", "1024MB", true},
		{"Memory size                  1024MB", "Memory size", "1024MB", true},
		{"Memory size:                 1024MB", "Memory size", "", false},
		{"Name:                        a name  with spaces ", "Name:", "a name  with spaces ", true},
		{"Name:            old", "Name:", "", false},
		{"Name: 'vagrant', Host path: '/home/lab/src' (machine mapping)", "Name:", "", false},
		{"NIC 1 Settings:  MTU: 0", "NIC 1:", "", false},
	} {
		got, ok := field(tc.line, tc.label)
		if got != tc.want || ok != tc.ok {
			t.Errorf("field(%q, %q) = %q, %v; want %q, %v", tc.line, tc.label, got, ok, tc.want, tc.ok)
		}
	}
}
