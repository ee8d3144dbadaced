package systest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SimHost is a host simulated on this machine: a network namespace with
// its own sshd on its own address, on an underlay bridge shared with the
// other simulated hosts and this machine.
type SimHost struct {
	Name    string // the host block's name
	Netns   string
	Addr    string // its underlay address
	sshd    *exec.Cmd
	cfgPath string
}

// SimHosts are simulated hosts, with the key and known_hosts that reach
// them.
type SimHosts struct {
	Hosts      []*SimHost
	Bridge     string
	BridgeAddr string // this machine's address on the underlay
	Identity   string
	KnownHosts string
}

// NewSimHosts starts n simulated hosts named name<random>1..N. Everything
// is removed when the test ends.
func NewSimHosts(t testing.TB, name string, n int) *SimHosts {
	t.Helper()
	Require(t, "ip", "nsenter", "ssh-keygen", "/usr/sbin/sshd")
	b := make([]byte, 3)
	rand.Read(b)
	sfx := hex.EncodeToString(b)
	dir := t.TempDir()
	sh := &SimHosts{Bridge: "lfu" + sfx, Identity: filepath.Join(dir, "id"), KnownHosts: filepath.Join(dir, "known_hosts")}
	net3 := fmt.Sprintf("10.%d.%d", 200+int(b[0])%50, b[1])
	sh.BridgeAddr = net3 + ".1"
	mustRun(t, "ip", "link", "add", sh.Bridge, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", sh.Bridge).Run() })
	mustRun(t, "ip", "addr", "add", sh.BridgeAddr+"/24", "dev", sh.Bridge)
	mustRun(t, "ip", "link", "set", sh.Bridge, "up")
	mustRun(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", sh.Identity)
	pub, err := os.ReadFile(sh.Identity + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	os.WriteFile(authorized, pub, 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	var known strings.Builder
	for i := 1; i <= n; i++ {
		h := &SimHost{Name: fmt.Sprintf("%s%s%d", name, sfx, i), Netns: fmt.Sprintf("lfh%s%d", sfx, i), Addr: fmt.Sprintf("%s.%d", net3, 10+i)}
		sh.Hosts = append(sh.Hosts, h)
		mustRun(t, "ip", "netns", "add", h.Netns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", h.Netns).Run() })
		outer := fmt.Sprintf("lfh%s%dr", sfx, i)
		mustRun(t, "ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", h.Netns)
		t.Cleanup(func() { exec.Command("ip", "link", "del", outer).Run() })
		mustRun(t, "ip", "link", "set", outer, "master", sh.Bridge, "up")
		mustRun(t, "ip", "-n", h.Netns, "addr", "add", h.Addr+"/24", "dev", "eth0")
		mustRun(t, "ip", "-n", h.Netns, "link", "set", "eth0", "up")
		mustRun(t, "ip", "-n", h.Netns, "link", "set", "lo", "up")
		key := filepath.Join(dir, h.Name+"_host_key")
		mustRun(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
		hpub, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(hpub))
		fmt.Fprintf(&known, "%s %s %s\n", h.Addr, f[0], f[1])
		h.cfgPath = filepath.Join(dir, h.Name+"_sshd_config")
		cfg := fmt.Sprintf("ListenAddress %s\nPort 22\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile %s\nLogLevel ERROR\n",
			h.Addr, key, authorized, filepath.Join(dir, h.Name+"_sshd.pid"))
		os.WriteFile(h.cfgPath, []byte(cfg), 0o600)
		h.Start(t)
		t.Cleanup(h.Stop)
		// What the host's agent kept (its lab directories) goes too.
		if home, err := os.UserHomeDir(); err == nil {
			t.Cleanup(func() { os.RemoveAll(filepath.Join(home, ".cache/labform/agent/hosts", h.Name)) })
		}
	}
	os.WriteFile(sh.KnownHosts, []byte(known.String()), 0o600)
	return sh
}

// Start starts the host's sshd and waits until it listens.
func (h *SimHost) Start(t testing.TB) {
	t.Helper()
	if h.sshd != nil {
		return
	}
	// nsenter enters the network namespace only: ip netns exec would also
	// remount /sys, hiding the cgroup mounts runc needs from the agent.
	h.sshd = exec.Command("nsenter", "--net=/var/run/netns/"+h.Netns, "/usr/sbin/sshd", "-D", "-e", "-f", h.cfgPath)
	h.sshd.Stderr = os.Stderr
	if err := h.sshd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		out, _ := exec.Command("ip", "netns", "exec", h.Netns, "ss", "-Hltn", "src", h.Addr+":22").Output()
		if len(strings.TrimSpace(string(out))) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sshd of simulated host %s does not listen on %s:22", h.Name, h.Addr)
}

// Stop stops the host's sshd: new connections are refused (sessions
// already open end when their client closes them).
func (h *SimHost) Stop() {
	if h.sshd != nil && h.sshd.Process != nil {
		h.sshd.Process.Kill()
		h.sshd.Wait()
		h.sshd = nil
	}
}

// Block is the host block that reaches h.
func (sh *SimHosts) Block(h *SimHost) string {
	return fmt.Sprintf("host %q {\n  ssh           = \"root@%s:22\"\n  identity_file = %q\n  known_hosts   = %q\n  underlay      = %q\n}\n",
		h.Name, h.Addr, sh.Identity, sh.KnownHosts, h.Addr)
}

// Exec runs a command in h's namespace (its network, this filesystem).
func (h *SimHost) Exec(args ...string) ([]byte, error) {
	return exec.Command("ip", append([]string{"netns", "exec", h.Netns}, args...)...).CombinedOutput()
}

// LabformBinary builds the labform command into the test's directory, for
// the agents of simulated hosts (a test binary is not labform).
func LabformBinary(t testing.TB) string {
	t.Helper()
	Require(t, "go")
	bin := filepath.Join(t.TempDir(), "labform")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/labform/labform/cmd/labform").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	// The simulated hosts' copy of it (named by its hash, in the shared
	// home's cache) goes when the test ends.
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if home, err := os.UserHomeDir(); err == nil {
		copyPath := filepath.Join(home, ".cache/labform/agent", "labform-"+hex.EncodeToString(sum[:])[:16])
		t.Cleanup(func() { os.Remove(copyPath); os.Remove(copyPath + ".sha256") })
	}
	return bin
}

func mustRun(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}
