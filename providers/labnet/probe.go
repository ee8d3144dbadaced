package labnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// within runs fn with the calling goroutine's thread in the network
// namespace pinned at path (a container's netns attribute, the lab's
// lab.netns). Sockets fn opens stay in that namespace, so that a probe
// needs no tool in the node's image.
func probeWithin(path string, fn func() error) error {
	if filepath.Dir(path) != Dir {
		return fmt.Errorf("%s is not a network namespace labform pinned (under %s)", path, Dir)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("the node's network namespace %s is gone: %w (the node is not running; apply creates it again)", path, err)
	}
	return Within(filepath.Base(path), fn)
}

// TCPOutcome is what a TCP connect found: "open" (the handshake
// completed), "refused" (a RST came back), "dropped" (nothing came back
// before the timeout), or another failure's text.
func TCPOutcome(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "open"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "dropped"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable (an ICMP host-unreachable or no route)"
	case errors.Is(err, syscall.ENETUNREACH):
		return "unreachable (no route to the network)"
	}
	return "error: " + err.Error()
}

// DialTCP connects to host:port from the network namespace at nsPath and
// says what happened (TCPOutcome).
func DialTCP(ctx context.Context, nsPath, host string, port int, timeout time.Duration) (string, error) {
	var outcome string
	err := probeWithin(nsPath, func() error {
		d := net.Dialer{Timeout: timeout}
		// The socket is created on this thread, in the namespace; the
		// wait goes through the poller and needs no thread of its own.
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, fmt.Sprint(port)))
		if c != nil {
			c.Close()
		}
		outcome = TCPOutcome(err)
		return nil
	})
	return outcome, err
}

// PingResult is what Ping saw: how many echo requests were sent and how
// many got their reply.
type PingResult struct {
	Sent, Received int
	Note           string // why requests were lost before leaving, if they were
}

func (r PingResult) String() string {
	if r.Note != "" {
		return fmt.Sprintf("%d/%d replies (%s)", r.Received, r.Sent, r.Note)
	}
	return fmt.Sprintf("%d/%d replies", r.Received, r.Sent)
}

var pingID struct {
	sync.Mutex
	next uint16
}

// Ping sends count ICMP echo requests to ip from the network namespace at
// nsPath, 200 ms apart, through a raw ICMP socket opened in that
// namespace, and waits for the replies until timeout after the last
// request. The replies are told apart from any other ICMP the socket sees
// by their identifier and sender.
func Ping(ctx context.Context, nsPath string, ip net.IP, count int, timeout time.Duration) (PingResult, error) {
	network, listen, proto := "ip4:icmp", "0.0.0.0", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if ip.To4() == nil {
		network, listen, proto = "ip6:ipv6-icmp", "::", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var conn *icmp.PacketConn
	if err := probeWithin(nsPath, func() error {
		var err error
		conn, err = icmp.ListenPacket(network, listen)
		return err
	}); err != nil {
		return PingResult{}, fmt.Errorf("opening an ICMP socket in %s: %w", nsPath, err)
	}
	defer conn.Close()
	pingID.Lock()
	if pingID.next == 0 {
		pingID.next = uint16(rand.IntN(1 << 16))
	}
	pingID.next++
	id := int(pingID.next)
	pingID.Unlock()

	res := PingResult{}
	lost := 0 // requests that never left
	got := map[int]bool{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != replyType {
				continue
			}
			echo, ok := m.Body.(*icmp.Echo)
			if !ok || echo.ID != id {
				continue
			}
			if pa, ok := peer.(*net.IPAddr); !ok || !pa.IP.Equal(ip) {
				continue
			}
			got[echo.Seq] = true
			if len(got) == count {
				return
			}
		}
	}()
	for seq := 0; seq < count; seq++ {
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("labform check")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return res, err
		}
		if _, err := conn.WriteTo(b, &net.IPAddr{IP: ip}); errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
			// No route: the request is lost, as it would be on a wire.
			res.Sent++
			lost++
			res.Note = "the node has no route to " + ip.String()
			continue
		} else if err != nil {
			conn.Close()
			<-done
			return res, fmt.Errorf("sending an echo request to %s: %w", ip, err)
		}
		res.Sent++
		if seq < count-1 {
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
	if lost < res.Sent { // no reply can come to requests that never left
		select {
		case <-done:
		case <-time.After(timeout):
		case <-ctx.Done():
		}
	}
	conn.Close()
	<-done
	res.Received = len(got)
	return res, nil
}

// LocalProber probes from namespaces of this machine.
type LocalProber struct{}

func (LocalProber) PingFrom(ctx context.Context, nsPath string, ip net.IP, count int, timeout time.Duration) (int, int, string, error) {
	r, err := Ping(ctx, nsPath, ip, count, timeout)
	return r.Sent, r.Received, r.Note, err
}

func (LocalProber) DialFrom(ctx context.Context, nsPath, host string, port int, timeout time.Duration) (string, error) {
	return DialTCP(ctx, nsPath, host, port, timeout)
}
