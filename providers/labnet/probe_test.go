package labnet

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTCPOutcome(t *testing.T) {
	op := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "open"},
		{op(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "refused"},
		{op(timeoutErr{}), "dropped"},
		{context.DeadlineExceeded, "dropped"},
		{op(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "unreachable (an ICMP host-unreachable or no route)"},
		{op(os.NewSyscallError("connect", syscall.ENETUNREACH)), "unreachable (no route to the network)"},
		{errors.New("odd"), "error: odd"},
	} {
		if got := TCPOutcome(c.err); got != c.want {
			t.Errorf("TCPOutcome(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
