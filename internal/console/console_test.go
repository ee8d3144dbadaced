package console

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// syncBuffer is the user's screen: written by Attach's copier, read by
// the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestAttach(t *testing.T) {
	for name, tc := range map[string]struct {
		telnet bool
		node   []byte // what the node sends first
		keys   string // what the user types (a pipe that then stays open)
		close  bool   // the node closes after sending
		// what the node receives, what the user's screen shows, the result
		received, screen string
		err              error
	}{
		"keys go through until Ctrl-]": {keys: "ls -l\r\x1dnot sent", node: []byte("prompt$ "),
			received: "ls -l\r", screen: "banner\r\nprompt$ \r\nDetached; the node keeps running.\r\n"},
		"telnet negotiation is answered and hidden": {telnet: true, node: []byte("\xff\xfb\x01\xff\xfb\x03boot\xff\xffed\xff\xfa\x18\x01\xff\xf0 ok"), keys: "\xff\x1d",
			received: "\xff\xfe\x01\xff\xfe\x03\xff\xff", screen: "banner\r\nboot\xffed ok\r\nDetached; the node keeps running.\r\n"},
		"the node closes": {node: []byte("bye"), close: true, received: "", screen: "banner\r\nbye", err: ErrClosed},
	} {
		t.Run(name, func(t *testing.T) {
			user, node := net.Pipe()
			var got bytes.Buffer
			done := make(chan struct{})
			go func() { // the node
				defer close(done)
				node.Write(tc.node)
				if tc.close {
					node.Close()
					return
				}
				node.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				io.Copy(&got, node)
			}()
			keys, typing := io.Pipe()
			go func() {
				time.Sleep(50 * time.Millisecond) // after the node's output
				typing.Write([]byte(tc.keys))
			}()
			var screen syncBuffer
			err := Attach(user, Options{In: keys, Out: &screen, Telnet: tc.telnet, Banner: "banner"})
			<-done
			if !errors.Is(err, tc.err) && err != tc.err {
				t.Fatalf("wrong result\ngot:  %v\nwant: %v", err, tc.err)
			}
			if got.String() != tc.received {
				t.Errorf("wrong bytes at the node\ngot:  %q\nwant: %q", got.String(), tc.received)
			}
			if screen.String() != tc.screen {
				t.Errorf("wrong screen\ngot:  %q\nwant: %q", screen.String(), tc.screen)
			}
		})
	}
}
