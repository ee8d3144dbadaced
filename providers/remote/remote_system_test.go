package remote

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
)

// TestSystem_agentLost kills a host's agent between two calls: the next
// call fails with the connection's loss, and the one after connects and
// starts an agent again. A host whose sshd is stopped fails with the SSH
// error.
func TestSystem_agentLost(t *testing.T) {
	sim := systest.NewSimHosts(t, "lost", 1)
	t.Setenv(AgentBinaryEnv, systest.LabformBinary(t))
	t.Cleanup(CloseAll)
	sh := sim.Hosts[0]
	h := providers.Host{Name: sh.Name, SSH: "root@" + sh.Addr, IdentityFile: sim.Identity, KnownHosts: sim.KnownHosts, Underlay: sh.Addr}

	first, err := Capabilities(h, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if first.Pid == 0 {
		t.Fatal("the agent gave no pid")
	}
	// A lab directory the host lacks is sent over SSH; a second send
	// finds nothing to send. (On simulated hosts the filesystem is shared:
	// the directory is sent to another path to see it travel.)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	os.MkdirAll(filepath.Join(src, "rootfs", "etc"), 0o755)
	os.WriteFile(filepath.Join(src, "rootfs", "etc", "motd"), []byte("hello"), 0o640)
	os.Symlink("etc/motd", filepath.Join(src, "rootfs", "motd"))
	c := connFor(h)
	if n, err := c.sendLab(src, dst); err != nil || n != 4 {
		t.Fatalf("sending the lab: %d entries, %v; want 4 (rootfs, etc, motd, the link)", n, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "rootfs", "motd")); err != nil || string(b) != "hello" {
		t.Fatalf("the copy on the host: %q, %v", b, err)
	}
	if n, err := c.sendLab(src, dst); err != nil || n != 0 {
		t.Fatalf("a second send: %d entries, %v; want none", n, err)
	}

	// Whether the lab's directory is on the host (init reports it).
	for dir, want := range map[string]bool{t.TempDir(): false, "/nonexistent/labform-lab": true} {
		if c, err := Capabilities(h, nil, dir); err != nil || c.NoLabDir != want {
			t.Fatalf("lab directory %s: NoLabDir %v, want %v (%v)", dir, c.NoLabDir, want, err)
		}
	}
	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	_, err = Capabilities(h, nil, "")
	if err == nil || !strings.Contains(err.Error(), "the connection to the agent was lost") || !strings.Contains(err.Error(), "host "+sh.Name) {
		t.Fatalf("a call after the agent was killed: %v", err)
	}
	again, err := Capabilities(h, nil, "")
	if err != nil {
		t.Fatalf("the call after a lost agent does not connect again: %v", err)
	}
	if again.Pid == first.Pid {
		t.Fatalf("the same agent (%d) answered after it was killed", again.Pid)
	}

	// A host that refuses SSH: the error says which host, and why.
	CloseAll()
	sh.Stop()
	_, err = Capabilities(h, nil, "")
	if err == nil || !strings.Contains(err.Error(), "host "+sh.Name+" (ssh root@"+sh.Addr+")") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("a host without sshd: %v", err)
	}
}
