package virtualbox

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// `VBoxManage list --long vms` prints, for every registered VM, what
// `showvminfo` prints without --machinereadable (VBoxManageList.cpp calls
// showVMInfo with VMINFO_STANDARD for each machine, one after the other;
// each block ends with an empty line, and empty lines occur inside blocks
// too). Refresh reads all its VMs from that one call. Since VirtualBox
// 6.0 the human format (VBoxManageInfo.cpp) prints each field as
// "%-28s %s": the label padded to 28 columns, a space, the value. The
// parser below reads only the fields refresh needs, each in that exact
// layout, and refuses whatever it does not recognize: a VM whose block
// lacks a field, or has one twice or in another form (an older
// VirtualBox's 16-column layout, a translated VBoxManage), is read again
// with showvminfo --machinereadable, so correctness never rests on the
// human format.

// labelColumn is the width labels are padded to ("%-28s ").
const labelColumn = 28

// field returns the value of a line that holds label in the 28-column
// layout: label, spaces up to column 28, one space, the value.
func field(line, label string) (string, bool) {
	if len(label) > labelColumn || len(line) <= labelColumn || !strings.HasPrefix(line, label) ||
		strings.Trim(line[len(label):labelColumn], " ") != "" || line[labelColumn] != ' ' {
		return "", false
	}
	return line[labelColumn+1:], true
}

// humanStates maps showvminfo's state names (machineStateToName with
// fShort false) to --machinereadable's VMState values (fShort true).
// "fault tolerant syncing" is VirtualBox 6.1's; "aborted-saved" 7.0's.
var humanStates = map[string]string{
	"powered off": "poweroff", "saved": "saved", "teleported": "teleported", "aborted": "aborted",
	"aborted-saved": "aborted-saved", "running": "running", "paused": "paused",
	"guru meditation": "gurumeditation", "teleporting": "teleporting", "live snapshotting": "livesnapshotting",
	"starting": "starting", "stopping": "stopping", "saving": "saving", "restoring": "restoring",
	"teleporting paused vm": "teleportingpausedvm", "teleporting (incoming)": "teleportingin",
	"fault tolerant syncing": "faulttolerantsyncing", "deleting snapshot live": "deletingsnapshotlive",
	"deleting snapshot live paused": "deletingsnapshotlivepaused", "online snapshotting": "onlinesnapshotting",
	"restoring snapshot": "restoringsnapshot", "deleting snapshot": "deletingsnapshot",
	"setting up": "settingup", "offline snapshotting": "snapshotting",
}

// attachments maps the human attachment of an enabled NIC to its nicN
// value; those that name something (an interface, a network) quote it.
var attachments = []struct{ prefix, nic string }{
	{"Bridged Interface '", "bridged"},
	{"Internal Network '", "intnet"},
	{"Host-only Interface '", "hostonly"},
	{"Generic '", "Generic"},
	{"NAT Network '", "natnetwork"},
	{"Host Only Network '", "hostonlynetwork"},
	{"Cloud Network '", "cloudnetwork"},
}

var (
	memoryRe = regexp.MustCompile(`^([0-9]+)MB$`)
	cpusRe   = regexp.MustCompile(`^[0-9]+$`)
	stateRe  = regexp.MustCompile(`^(.+) \(since [^()]+\)$`)
	nicRe    = regexp.MustCompile(`^NIC ([0-9]+):`)
	// An enabled NIC: "MAC: 080027A1B2C3, Attachment: ..., Cable
	// connected: on, Trace: off (file: none), Type: 82540EM, ...".
	nicLineRe = regexp.MustCompile(`^MAC: ([0-9A-F]{12}), Attachment: (.+?), Cable connected: (on|off), Trace: `)
)

// listedVM is one VM's block in the listing, in showvminfo
// --machinereadable's keys (VMState, memory, cpus, nicN, bridgeadapterN,
// macaddressN, cableconnectedN); err says why the block does not parse.
type listedVM struct {
	info machineInfo
	err  error
}

// listing is `list --long vms` parsed: the VMs by name, and how many
// inaccessible ones it showed (whose names VirtualBox does not know).
type listing struct {
	vms          map[string][]*listedVM
	inaccessible int
}

// parseListing splits the listing into blocks, one per VM. A block
// begins with a Name line followed by Encryption (VirtualBox 7) or Groups
// (6.x); an inaccessible machine's with "Name: <inaccessible!>". Any
// text before the first block (a translated VBoxManage, whose labels the
// parser does not know, prints nothing else) makes the whole listing
// unusable; an empty one means no VM is registered.
func parseListing(out string) (*listing, error) {
	l := &listing{vms: map[string][]*listedVM{}}
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	var cur *listedVM // nil before the first block and inside an inaccessible one
	started := false
	for i, line := range lines {
		if strings.HasPrefix(line, "Name:") && strings.TrimSpace(strings.TrimPrefix(line, "Name:")) == "<inaccessible!>" {
			l.inaccessible++
			cur, started = nil, true
			continue
		}
		if name, ok := field(line, "Name:"); ok && i+1 < len(lines) {
			if _, enc := field(lines[i+1], "Encryption:"); enc || strings.HasPrefix(lines[i+1], "Groups:") {
				cur, started = &listedVM{info: machineInfo{}}, true
				l.vms[name] = append(l.vms[name], cur)
				continue
			}
		}
		if !started {
			if strings.TrimSpace(line) != "" {
				return nil, fmt.Errorf("unexpected text before the first VM: %q", line)
			}
			continue
		}
		if cur != nil && cur.err == nil {
			cur.err = cur.parseLine(line)
		}
	}
	return l, nil
}

// parseLine reads one line of a VM's block into its keys, if it is one
// of the fields refresh needs.
func (v *listedVM) parseLine(line string) error {
	set := func(k, val string) error {
		if _, dup := v.info[k]; dup {
			return fmt.Errorf("%s given twice", k)
		}
		v.info[k] = val
		return nil
	}
	if val, ok := field(line, "State:"); ok {
		m := stateRe.FindStringSubmatch(val)
		if m == nil || humanStates[m[1]] == "" {
			return fmt.Errorf("unknown state %q", val)
		}
		return set("VMState", humanStates[m[1]])
	}
	// "Memory size:" since VirtualBox 7.0; 6.x printed it without the colon.
	for _, label := range []string{"Memory size:", "Memory size"} {
		if val, ok := field(line, label); ok {
			m := memoryRe.FindStringSubmatch(val)
			if m == nil {
				return fmt.Errorf("memory size %q", val)
			}
			return set("memory", m[1])
		}
	}
	if val, ok := field(line, "Number of CPUs:"); ok {
		if !cpusRe.MatchString(val) {
			return fmt.Errorf("number of CPUs %q", val)
		}
		return set("cpus", val)
	}
	m := nicRe.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	k := m[1]
	val, ok := field(line, "NIC "+k+":")
	if !ok {
		return fmt.Errorf("NIC %s: unexpected layout %q", k, line)
	}
	if val == "disabled" {
		return set("nic"+k, "none")
	}
	n := nicLineRe.FindStringSubmatch(val)
	if n == nil {
		return fmt.Errorf("NIC %s: unexpected %q", k, val)
	}
	nic, bridge := "", ""
	switch att := n[2]; att {
	case "NAT":
		nic = "nat"
	case "none":
		nic = "null"
	default:
		for _, a := range attachments {
			if strings.HasPrefix(att, a.prefix) {
				nic = a.nic
				if a.nic == "bridged" {
					if !strings.HasSuffix(att, "'") || len(att) <= len(a.prefix) {
						return fmt.Errorf("NIC %s: bridged interface %q", k, att)
					}
					bridge = att[len(a.prefix) : len(att)-1]
				}
				break
			}
		}
		if nic == "" {
			return fmt.Errorf("NIC %s: unknown attachment %q", k, att)
		}
	}
	if err := set("nic"+k, nic); err != nil {
		return err
	}
	if nic == "bridged" {
		if err := set("bridgeadapter"+k, bridge); err != nil {
			return err
		}
	}
	if err := set("macaddress"+k, n[1]); err != nil {
		return err
	}
	return set("cableconnected"+k, n[3])
}

// lookup returns the VM's keys from the listing: found is false when the
// listing has no VM of that name, and err says why it cannot tell (the
// block did not parse or lacks a field refresh needs, two VMs have the
// name, or the listing shows inaccessible VMs, which might be this one).
func (l *listing) lookup(name string, nics []int) (info machineInfo, found bool, err error) {
	vms := l.vms[name]
	switch {
	case len(vms) == 0 && l.inaccessible > 0:
		return nil, false, fmt.Errorf("not listed, and the listing shows %d inaccessible VMs", l.inaccessible)
	case len(vms) == 0:
		return nil, false, nil
	case len(vms) > 1:
		return nil, false, fmt.Errorf("%d VMs are named %q", len(vms), name)
	case vms[0].err != nil:
		return nil, false, vms[0].err
	}
	info = vms[0].info
	for _, k := range []string{"VMState", "memory", "cpus"} {
		if _, ok := info[k]; !ok {
			return nil, false, fmt.Errorf("no %s in the VM's block", k)
		}
	}
	for _, n := range nics {
		if _, ok := info["nic"+strconv.Itoa(n)]; !ok {
			return nil, false, fmt.Errorf("no NIC %d line in the VM's block", n)
		}
	}
	return info, true, nil
}
