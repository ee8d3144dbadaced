package providers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Object identity. Every name labform gives a host object (a namespace, a
// runc container, a port, a bridge, a QEMU working directory, a VirtualBox
// VM) derives from the object's ID, which the engine chooses once, before
// the create, and records in the journal and then in state. Read, Update
// and Delete use the recorded ID, so that:
//   - two objects of one address can live at once (create_before_destroy
//     gives the new one the other slot);
//   - a lab keeps its names when its directory is moved or reached through
//     a symlink (the lab ID lives in state, not in the path);
//   - a lab whose state was lost is found again: slot IDs are derived from
//     the lab ID and the address, so they can be looked for.

// IDLen is the length of an object ID in hex digits.
const IDLen = 16

// LabID derives a new lab's ID from its resolved directory. It is recorded
// in state at the first apply and read from there afterwards.
func LabID(dir string) string {
	h := sha256.Sum256([]byte("lab\x00" + dir))
	return hex.EncodeToString(h[:])[:12]
}

// ObjectID is the ID of the object of address addr in the given slot. An
// address has two slots, so that a create_before_destroy's new object
// never shares a name with the old one.
func ObjectID(labID, addr string, slot int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d", labID, addr, slot)))
	return hex.EncodeToString(h[:])[:IDLen]
}

// Slots is how many IDs an address may have at once.
const Slots = 2

// Key is the lab's ID: the recorded one, or one derived from the
// directory for labs built by hand (tests).
func (l Lab) Key() string {
	if l.ID != "" {
		return l.ID
	}
	return LabID(l.Dir)
}

// Object is the ID of the object that now stands at addr: as this run
// applied it, else as recorded in state, else slot 0's.
func (l Lab) Object(addr string) string {
	if l.IDOf != nil {
		if id := l.IDOf(addr); id != "" {
			return id
		}
	}
	return ObjectID(l.Key(), addr, 0)
}

// IDFor is the ID a request names, or addr's current one when the request
// carries none.
func (l Lab) IDFor(id, addr string) string {
	if id != "" {
		return id
	}
	return l.Object(addr)
}
