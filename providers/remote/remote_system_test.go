package remote

import (
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
