package labnet

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OpenTap creates a tap device in the named namespace and returns its
// file. The tap lives as long as the file is open anywhere: handed to
// QEMU, it goes when QEMU exits, with nothing to clean up. /dev/net/tun
// is opened with the thread inside the namespace, because a tap belongs
// to the namespace of whoever opened the device.
func OpenTap(nsName, name string) (*os.File, error) {
	// A tap whose last holder just exited keeps its name until the kernel
	// has unregistered it (EBUSY meanwhile): a restarted VM waits for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := openTapIn(nsName, name)
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openTapIn(nsName, name string) (*os.File, error) {
	var f *os.File
	err := Within(nsName, func() (err error) {
		f, err = TapDevice(name)
		return err
	})
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("creating tap %s in %s: %w", name, nsName, err)
	}
	h, ns, err := HandleIn(nsName)
	if err != nil {
		f.Close()
		return nil, err
	}
	defer ns.Close()
	defer h.Close()
	l, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("setting tap %s up in %s: %w", name, nsName, err)
	}
	return f, nil
}

// TapDevice creates a tap device in the calling thread's namespace (the
// caller has locked the thread there, or wants the host's) and returns its
// file: the tap lives as long as the file is open anywhere.
func TapDevice(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var req struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = unix.IFF_TAP | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); errno != 0 {
		unix.Close(fd)
		return nil, errno
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}
