package providers

import (
	"net"
	"regexp"
)

// A VM's mac_address is a base: adapter n gets base + n, carried across
// the 48 bits, so that a lab writes one address per VM and still gets a
// distinct, predictable one per adapter. QEMU and VirtualBox both use
// these helpers, so a lab moved from one to the other keeps its
// addresses.

// macPattern is the one spelling of mac_address a lab may write: six
// colon-separated pairs. net.ParseMAC also takes dashes, dots and longer
// (EUI-64, InfiniBand) forms, which no NIC here takes.
var macPattern = regexp.MustCompile(`^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$`)

// BaseMAC is mac_address as a 48-bit number; ok is false when s is empty
// or not a MAC address.
func BaseMAC(s string) (base uint64, ok bool) {
	hw, err := net.ParseMAC(s)
	if s == "" || err != nil || len(hw) != 6 {
		return 0, false
	}
	for _, x := range hw {
		base = base<<8 | uint64(x)
	}
	return base, true
}

// MACAt is base + n, wrapped to 48 bits: adapter n's address.
func MACAt(base uint64, n int) net.HardwareAddr {
	m := (base + uint64(n)) & (1<<48 - 1)
	return net.HardwareAddr{byte(m >> 40), byte(m >> 32), byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}
