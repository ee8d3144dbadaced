package qemu

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/shlex"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/cidata"
	"github.com/zclconf/go-cty/cty"
)

// vmConfig is a vm value resolved for one start: what the command line is
// built from. Paths are absolute.
type vmConfig struct {
	Addr string // vm.router: the VM's name
	ID   string // the object ID its host names derive from
	UUID string
	Dir  string // the working directory: log, overlays
	// RunDir holds the QMP socket and the pidfile, under /run: what finds
	// the process again even when the lab's .labform was deleted.
	RunDir     string
	Platform   string
	Accel      string // kvm or tcg, resolved
	Memory     int
	CPUs       int
	Adapters   int
	NIC        string // the adapters' device model
	MACs       []string
	MgmtMAC    string // the management NIC's MAC; "" for none (mgmt.go)
	Disks      []disk
	CDROM      string
	BIOS       string
	Kernel     string
	Initrd     string
	KernelArgs string
	BootOrder  string
	Console    string // telnet, vnc, spice, none
	Port       int    // the console's host port
	Paused     bool   // start with the CPUs stopped (state = paused)
	// GuestAgent adds a virtio-serial channel for qemu-ga, on a socket in
	// RunDir (what exec talks to).
	GuestAgent bool
	Extra      []string
	// Hidden are files of the working directory (name to content, written
	// 0600) that hold a sensitive extra_args kept out of argv.
	Hidden map[string][]byte
	// Secrets are the sensitive strings qemu.log must not echo.
	Secrets []string
	// ConfigDisk is the NoCloud config disk of the file blocks and the
	// cloud_init block (nil without them), written to CIData at start.
	ConfigDisk *cidata.Disk
	CIData     string
}

// disk is one of hda-hdd. Path is what QEMU opens: the overlay of a
// linked clone, or the image itself.
type disk struct {
	Slot      string // hda, hdb, hdc, hdd
	Image     string // the base image, as resolved
	Path      string
	Format    string // of Path
	Interface string // ide, sata, scsi, virtio
}

var (
	// The enums below are the schema's allowed values, which the
	// configuration checks before a provider sees a value.
	diskInterfaces = []string{"ide", "sata", "scsi", "virtio"}
	adapterTypes   = map[string]bool{"e1000": true, "e1000e": true, "e1000-82544gc": true, "e1000-82545em": true, "i82550": true,
		"i82551": true, "i82557a": true, "i82557b": true, "i82557c": true, "i82558a": true, "i82558b": true, "i82559a": true,
		"i82559b": true, "i82559c": true, "i82559er": true, "i82562": true, "i82801": true, "ne2k_pci": true, "pcnet": true,
		"rtl8139": true, "virtio-net-pci": true, "vmxnet3": true}
	// Linux priorities for GNS3's process_priority names.
	priorities = map[string]int{"realtime": -20, "very high": -15, "high": -5, "normal": 0, "low": 5, "very low": 19}
)

// maxAdapters bounds adapters: one tap each, named lfp<hash><n> within
// Linux's 15 characters, and PCI bridges of 32 slots.
const maxAdapters = 200

// num reads a number attribute as an int; null or unknown reads as 0
// (providers.Number), which callers treat as not set.
func num(v cty.Value, name string) int { return int(providers.Number(v, name)) }

// validate checks a vm value beyond its types; every error names the
// attribute, so the diagnostic points at its line.
func validate(v cty.Value) []*providers.AttrError {
	errs := providers.ValidateCommonVM(v, maxAdapters)
	fail := func(p cty.Path, summary, detail string, args ...interface{}) {
		errs = append(errs, &providers.AttrError{Path: p, Summary: summary, Detail: fmt.Sprintf(detail, args...)})
	}
	attr := cty.GetAttrPath
	if n := num(v, "cpu_throttling"); n < 0 || n > 800 {
		fail(attr("cpu_throttling"), "Invalid cpu_throttling", "%d: a percentage of one CPU, 0 (off) to 800.", n)
	}
	if n := num(v, "shutdown_timeout"); n < 0 {
		fail(attr("shutdown_timeout"), "Invalid shutdown_timeout", "%d: seconds, 0 or more.", n)
	}
	if p := providers.String(v, "platform"); p != "" && !platformRe.MatchString(p) {
		fail(attr("platform"), "Invalid platform", "%q: a qemu-system target such as x86_64 or aarch64.", p)
	}
	if b := providers.String(v, "boot_order"); !bootOrderRe.MatchString(b) {
		fail(attr("boot_order"), "Invalid boot order", "%q: QEMU's drive letters, such as c (hard disk), d (cdrom) or n (network), in order.", b)
	}
	disks := v.GetAttr("disk")
	if !disks.IsNull() && disks.IsKnown() {
		for slot, d := range disks.AsValueMap() {
			i := providers.String(d, "interface")
			if slot == "hdc" && i == "ide" && providers.String(v, "cdrom") != "" {
				fail(attr("disk").Index(cty.StringVal(slot)).GetAttr("interface"), "hdc and the cdrom share a slot",
					"QEMU puts the cdrom on IDE index 2, hdc's place; give hdc another interface (sata, scsi or virtio).")
			}
			if slot == "hdd" && i == "ide" && cidata.Wanted(v) {
				fail(attr("disk").Index(cty.StringVal(slot)).GetAttr("interface"), "hdd and the config disk share a slot",
					"The VM's file blocks and cloud_init go on a config disk, a cdrom that QEMU puts on IDE index 3, hdd's place; give hdd another interface (sata, scsi or virtio).")
			}
		}
	}
	if providers.String(v, "initrd") != "" && providers.String(v, "kernel") == "" {
		fail(attr("initrd"), "initrd without a kernel", "initrd is loaded with kernel; set kernel too.")
	}
	if providers.String(v, "kernel_args") != "" && providers.String(v, "kernel") == "" {
		fail(attr("kernel_args"), "kernel_args without a kernel", "kernel_args is the command line of kernel; set kernel too.")
	}
	if e := providers.String(v, "extra_args"); e != "" {
		if _, err := shlex.Split(e); err != nil {
			// The value is not echoed: it may be sensitive.
			fail(attr("extra_args"), "Invalid extra_args", "extra_args cannot be split like a shell would: %v.", err)
		}
	}
	return errs
}

var (
	platformRe  = regexp.MustCompile(`^[a-z0-9_]{2,16}$`)
	bootOrderRe = regexp.MustCompile(`^[a-p]{1,4}$`)
)

// vmUUID is the VM's stable identity: a name-based UUID of the lab and the
// address, so the guest sees the same machine across restarts.
func vmUUID(labDir, addr string) string {
	h := sha256.Sum256([]byte(labDir + "\x00" + addr))
	h[6] = h[6]&0x0f | 0x50 // version 5 layout, SHA-256 based
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// macs derives the adapters' addresses: adapter n gets base + n. Without
// a base, a stable one is made from the VM's object ID, in QEMU's
// 52:54:00 range with the last byte free for the adapters.
func macs(base, id string, n int) []string {
	b, ok := providers.BaseMAC(base)
	if !ok {
		h := sha256.Sum256([]byte(id))
		b = 0x525400<<24 | uint64(h[0])<<16 | uint64(h[1])<<8
	}
	out := make([]string, n)
	for i := range out {
		out[i] = providers.MACAt(b, i).String()
	}
	return out
}

// extraArgs splits extra_args like a shell (without running one) and
// substitutes %vm-name%, %vm-id%, %lab-name% and %lab-path% in each word,
// after splitting, so that a value with spaces stays one word. Most QEMU
// options take a comma-separated key=value list, where a comma in a
// substituted value would start a sub-option of the user's value (a
// for_each key "k,guest=on" in %vm-name%): there its commas are doubled,
// QEMU's own escaping. The arguments of plainArgFlags are taken whole by
// QEMU, so they get the values as they are.
func extraArgs(s string, c *vmConfig, labName, labDir string) ([]string, error) {
	words, err := shlex.Split(s)
	if err != nil {
		return nil, err
	}
	pairs := []string{"%vm-name%", c.Addr, "%vm-id%", c.UUID, "%lab-name%", labName, "%lab-path%", labDir}
	plain := strings.NewReplacer(pairs...)
	for i := 1; i < len(pairs); i += 2 {
		pairs[i] = opt(pairs[i])
	}
	escaped := strings.NewReplacer(pairs...)
	for i, w := range words {
		if i > 0 && plainArgFlags[words[i-1]] {
			words[i] = plain.Replace(w)
		} else {
			words[i] = escaped.Replace(w)
		}
	}
	return words, nil
}

// plainArgFlags are the QEMU options whose argument is one value (a file
// name, a command line), not a key=value list in which commas separate.
var plainArgFlags = map[string]bool{
	"-D": true, "-L": true, "-pidfile": true, "-kernel": true, "-initrd": true, "-bios": true, "-dtb": true,
	"-append": true, "-uuid": true, "-k": true, "-loadvm": true,
}

// resolve makes a path of the lab absolute.
func resolve(labDir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(labDir, p)
}
