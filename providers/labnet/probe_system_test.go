package labnet_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers/labnet"
)

// TestProbes_inANamespace runs ping (IPv4 and IPv6) and every TCP outcome
// from inside a network namespace of the test's own, where only lo is up:
// a listener (open), a closed port (refused), a port whose SYNs iptables
// drops (dropped), and an address without a route (no reply, unreachable).
func TestProbes_inANamespace(t *testing.T) {
	systest.Require(t, "ip", "iptables")
	name := fmt.Sprintf("lfchkt%d", os.Getpid())
	if err := labnet.CreateNetns(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { labnet.DeleteNetns(name) })
	path := filepath.Join(labnet.Dir, name)
	for _, argv := range [][]string{
		{"ip", "-n", name, "link", "set", "lo", "up"},
		{"ip", "netns", "exec", name, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "23", "-j", "DROP"},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", argv, err, out)
		}
	}
	var ln net.Listener
	if err := labnet.Within(name, func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx := context.Background()

	for _, c := range []struct {
		ip       string
		received int
		note     string
	}{
		{"127.0.0.1", 2, ""},
		{"::1", 2, ""},
		{"10.99.0.1", 0, "the node has no route to 10.99.0.1"},
	} {
		// The wait ends as soon as both replies are in; it is long for a
		// loaded machine.
		r, err := labnet.Ping(ctx, path, net.ParseIP(c.ip), 2, 3*time.Second)
		if err != nil || r.Sent != 2 || r.Received != c.received || r.Note != c.note {
			t.Errorf("ping %s: %+v, %v; want %d replies", c.ip, r, err, c.received)
		}
	}
	for _, c := range []struct {
		host    string
		port    int
		timeout time.Duration
		want    string
	}{
		{"127.0.0.1", port, 3 * time.Second, "open"},
		{"127.0.0.1", 22, 3 * time.Second, "refused"},
		{"127.0.0.1", 23, 500 * time.Millisecond, "dropped"},
		{"10.99.0.1", 80, 3 * time.Second, "unreachable (no route to the network)"},
	} {
		got, err := labnet.DialTCP(ctx, path, c.host, c.port, c.timeout)
		if err != nil || got != c.want {
			t.Errorf("tcp %s:%d: %q, %v; want %q", c.host, c.port, got, err, c.want)
		}
	}
	// The host's own namespace is untouched: the listener is not there.
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond); err == nil {
		c.Close()
		t.Error("the listener opened inside the namespace answers in the host's")
	}
	if _, err := labnet.DialTCP(ctx, "/tmp/not-a-netns", "127.0.0.1", 1, time.Second); err == nil {
		t.Error("a path outside the netns directory is accepted")
	}
}
