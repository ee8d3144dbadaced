package console

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// DetachKey is Ctrl-]: it ends the attachment and leaves the node running,
// as telnet's escape character does.
const DetachKey = 0x1d

// ErrClosed is returned when the node's side closed the console (the VM
// stopped, the shell exited).
var ErrClosed = errors.New("the console was closed by the node")

// Options say how to attach.
type Options struct {
	// In and Out are the user's terminal (or any reader and writer: tests).
	// When In is a terminal it is put in raw mode for the attachment and
	// restored afterwards, so that keys reach the node as they are typed.
	In  io.Reader
	Out io.Writer
	// Telnet strips the telnet protocol's negotiation from what the node
	// sends and escapes what the user sends (QEMU's telnet serial port).
	Telnet bool
	// Banner is printed first (with the detach hint).
	Banner string
}

// Attach copies the user's keys to remote and remote's output to the user
// until Ctrl-] (nil) or until remote closes (ErrClosed). It closes
// remote.
func Attach(remote io.ReadWriteCloser, o Options) error {
	defer remote.Close()
	if f, ok := o.In.(*os.File); ok {
		if restore, err := MakeRaw(int(f.Fd())); err == nil {
			defer restore()
		}
	}
	if o.Banner != "" {
		fmt.Fprintf(o.Out, "%s\r\n", o.Banner)
	}
	closed := make(chan error, 1)
	go func() {
		var r io.Reader = remote
		if o.Telnet {
			r = &telnetReader{r: remote, w: remote}
		}
		_, err := io.Copy(o.Out, r)
		closed <- err
	}()
	detached := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := o.In.Read(buf)
			b := buf[:n]
			stop := false
			for i, c := range b {
				if c == DetachKey {
					b, stop = b[:i], true
					break
				}
			}
			if len(b) > 0 {
				if o.Telnet {
					b = escapeIAC(b)
				}
				if _, werr := remote.Write(b); werr != nil {
					detached <- werr
					return
				}
			}
			if stop {
				detached <- nil
				return
			}
			if err != nil {
				// The user's input ended (not a terminal): keep showing
				// the node's output until it closes.
				return
			}
		}
	}()
	select {
	case err := <-detached:
		if err == nil {
			fmt.Fprint(o.Out, "\r\nDetached; the node keeps running.\r\n")
		}
		return err
	case <-closed:
		return ErrClosed
	}
}

// MakeRaw puts the terminal fd in raw mode and returns what restores it.
func MakeRaw(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// Telnet bytes (RFC 854).
const (
	iac  = 255
	dont = 254
	do   = 253
	wont = 252
	will = 251
	sb   = 250
	se   = 240
)

// escapeIAC doubles 0xff, telnet's escape, in data the user sends.
func escapeIAC(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		out = append(out, c)
		if c == iac {
			out = append(out, iac)
		}
	}
	return out
}

// telnetReader passes the data of a telnet stream and drops its commands.
// It refuses every option the server offers or asks for (QEMU's telnet
// server offers echo and suppress-go-ahead, and works without them: the
// user's terminal is already raw).
type telnetReader struct {
	r     io.Reader
	w     io.Writer
	state int // 0 data, 1 after IAC, 2 option byte of a negotiation, 3 in SB, 4 IAC in SB
	verb  byte
	buf   [4096]byte
}

func (t *telnetReader) Read(p []byte) (int, error) {
	for {
		n, err := t.r.Read(t.buf[:min(len(p), len(t.buf))])
		out := 0
		for _, c := range t.buf[:n] {
			switch t.state {
			case 0:
				if c == iac {
					t.state = 1
					continue
				}
				p[out] = c
				out++
			case 1:
				switch {
				case c == iac: // an escaped 0xff
					p[out] = c
					out++
					t.state = 0
				case c >= will && c <= dont:
					t.verb, t.state = c, 2
				case c == sb:
					t.state = 3
				default:
					t.state = 0
				}
			case 2:
				switch t.verb { // answer: no to everything
				case will:
					t.w.Write([]byte{iac, dont, c})
				case do:
					t.w.Write([]byte{iac, wont, c})
				}
				t.state = 0
			case 3:
				if c == iac {
					t.state = 4
				}
			case 4:
				if c == se {
					t.state = 0
				} else {
					t.state = 3
				}
			}
		}
		if out > 0 || err != nil {
			return out, err
		}
	}
}
