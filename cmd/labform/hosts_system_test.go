package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/internal/agent"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/all"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/labnet"
	"github.com/labform/labform/providers/remote"
)

// hostsLab spreads a lab over this machine and two simulated hosts: a on
// this machine, b and d on host 1, c on host 2. ab crosses from here to
// host 1 (VXLAN, shaped), bc from host 1 to host 2 (VXLAN), bd stays on
// host 1 (a bridge there).
const hostsLab = `
lab {
  name = %q
}
%s
%s
container "a" {
  rootfs    = "rootfs"
  command   = ["sleep", "3600"]
  addresses = { eth0 = ["10.77.1.1/24"] }
}
container "b" {
  host      = host.%s
  rootfs    = "rootfs"
  command   = ["sleep", "3600"]
  ports     = 3
  addresses = { eth0 = ["10.77.1.2/24"], eth1 = ["10.77.2.2/24"], eth2 = ["10.77.3.2/24"] }
}
variable "c_rootfs" {
  default = "rootfs"
}
container "c" {
  host      = host.%s
  rootfs    = var.c_rootfs
  command   = ["sleep", "3600"]
  addresses = { eth0 = ["10.77.2.3/24"] }
  ready {
    exec    = ["sh", "-c", "ip addr show eth0 | grep -q 10.77.2.3"]
    timeout = "30s"
  }
}
check "across_hosts" {
  ping {
    from   = container.b
    to     = "10.77.2.3"
    expect = var.bc_state == "up" ? "reply" : "no-reply"
  }
  tcp {
    from   = container.c
    to     = "10.77.2.2"
    port   = 23
    expect = var.bc_state == "up" ? "refused" : "dropped"
  }
  exec {
    on      = container.c
    command = ["sh", "-c", "echo up-$((40+2))"]
    output  = "up-42"
  }
}
container "d" {
  host      = host.%s
  rootfs    = "rootfs"
  command   = ["sleep", "3600"]
  addresses = { eth0 = ["10.77.3.4/24"] }
}
link "ab" {
  endpoints = [container.a.port[0], container.b.port[0]]
  impairment {
    rate = "8mbit"
  }
}
variable "bc_state" {
  default = "up"
}
link "bc" {
  endpoints = [container.b.port[1], container.c.port[0]]
  state     = var.bc_state
}
link "bd" {
  endpoints = [container.b.port[2], container.d.port[0]]
}
firewall_chain "d_in" {
  target = container.d
  hooks  = ["INPUT"]
  rule {
    protocol = "tcp"
    dport    = 23
    action   = "drop"
  }
}
`

// hostsCLI runs labform in this process with the real providers; each
// run closes its connections to the hosts, as the process's exit would.
type hostsCLI struct {
	t   *testing.T
	dir string
}

func (c *hostsCLI) run(args ...string) (int, string) {
	c.t.Helper()
	return c.runIn("", args...)
}

// runIn runs labform with stdin.
func (c *hostsCLI) runIn(stdin string, args ...string) (int, string) {
	c.t.Helper()
	var out bytes.Buffer
	code := run(append([]string{"-chdir=" + c.dir, "-no-color"}, args...), all.Registry(), stdio{in: strings.NewReader(stdin), out: &out, err: &out})
	remote.CloseAll()
	return code, out.String()
}

func (c *hostsCLI) must(want int, args ...string) string {
	c.t.Helper()
	code, out := c.run(args...)
	if code != want {
		c.t.Fatalf("labform %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
	}
	return out
}

var netnsAttr = regexp.MustCompile(`netns\s*=\s*"([^"]+)"`)

// netns is the network namespace of a container, as its state says.
func (c *hostsCLI) netns(addr string) string {
	c.t.Helper()
	out := c.must(0, "state", "show", addr)
	m := netnsAttr.FindStringSubmatch(out)
	if m == nil {
		c.t.Fatalf("no netns in the state of %s:\n%s", addr, out)
	}
	return filepath.Base(m[1])
}

func (c *hostsCLI) ping(from, to string) bool {
	ns := c.netns(from)
	// A tunnel rewired a moment ago may take a few seconds to learn its
	// peer on a loaded machine (seen in CI): up to 15 tries.
	for i := 0; i < 15; i++ {
		if exec.Command("ip", "netns", "exec", ns, "busybox", "ping", "-c", "1", "-W", "1", to).Run() == nil {
			return true
		}
	}
	return false
}

// TestSystem_hosts spreads a lab over two simulated hosts: containers on
// each, pings across VXLAN links and a bridge on a remote host, a rate
// measured across hosts, drift on a remote host planned and repaired, a
// host made unreachable failing only its own objects, and a destroy that
// leaves every host as it was.
func TestSystem_hosts(t *testing.T) {
	systest.Require(t, "runc", "busybox", "ip", "tc")
	sim := systest.NewSimHosts(t, "edge", 2)
	t.Setenv(remote.AgentBinaryEnv, systest.LabformBinary(t))
	h1, h2 := sim.Hosts[0], sim.Hosts[1]
	dir := t.TempDir()
	name := fmt.Sprintf("lfhosts%d", os.Getpid()%100000)
	systest.BusyboxRootfs(t, filepath.Join(dir, "rootfs"), "sh", "sleep", "ping", "nc", "dd")
	src := fmt.Sprintf(hostsLab, name, sim.Block(h1), sim.Block(h2), h1.Name, h2.Name, h1.Name)
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &hostsCLI{t: t, dir: dir}
	real, _ := filepath.EvalSymlinks(dir)
	labID := providers.LabID(real)
	hostNetns := func(h *systest.SimHost) string {
		return providers.LabNetns(name + "-" + agent.HostLabID(labID, h.Name)[:8])
	}
	t.Cleanup(func() {
		sim.Hosts[1].Start(t)
		c.run("destroy", "-auto-approve")
		// What a failed destroy left, by name: the containers' namespaces
		// (their IDs are the operator's) and runc state on every host,
		// then the lab namespaces.
		for _, a := range []string{"container.a", "container.b", "container.c", "container.d"} {
			for slot := 0; slot < providers.Slots; slot++ {
				labnet.DeleteNetns(labnet.ContainerNetns(providers.ObjectID(labID, a, slot)))
			}
		}
		for _, id := range []string{labID, agent.HostLabID(labID, h1.Name), agent.HostLabID(labID, h2.Name)} {
			systest.RemoveRuncRoot(container.RuntimeRoot(id))
		}
		for _, ns := range []string{providers.LabNetns(name), hostNetns(h1), hostNetns(h2)} {
			labnet.DeleteNetns(ns)
		}
	})

	out := c.must(0, "init")
	t.Logf("init:\n%s", out)
	netem := ", netem, "
	if labnet.ProbeNetem() != nil {
		netem = ", no netem ("
	}
	for _, h := range sim.Hosts {
		if !strings.Contains(out, "- "+h.Name+" (") {
			t.Errorf("init does not report host %s:\n%s", h.Name, out)
		}
	}
	if strings.Count(out, netem) != len(sim.Hosts) {
		t.Errorf("init does not say %q for each host:\n%s", netem, out)
	}
	c.must(0, "apply", "-auto-approve")
	if out := c.must(0, "plan", "-detailed-exitcode"); !strings.Contains(out, "No changes") {
		t.Fatalf("a second plan is not empty:\n%s", out)
	}
	// Each object's state records its host.
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address  string `json:"address"`
					Provider string `json:"provider_name"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(c.must(0, "show", "-json")), &doc); err != nil {
		t.Fatal(err)
	}
	provs := map[string]string{}
	for _, r := range doc.Values.RootModule.Resources {
		provs[r.Address] = r.Provider
	}
	for addr, want := range map[string]string{"container.a": "container", "container.b": "container@" + h1.Name, "container.c": "container@" + h2.Name,
		"link.bd": "link@" + h1.Name, "link.ab": "vxlan", "link.bc": "vxlan", "firewall_chain.d_in": "netfilter@" + h1.Name} {
		if provs[addr] != want {
			t.Errorf("the state of %s says provider %q, want %q (all: %v)", addr, provs[addr], want, provs)
		}
	}
	// The lab namespaces are the hosts' own.
	for _, h := range sim.Hosts {
		if _, err := os.Stat(filepath.Join(labnet.Dir, hostNetns(h))); err != nil {
			t.Errorf("host %s has no lab namespace %s: %v", h.Name, hostNetns(h), err)
		}
	}
	pings := func() {
		t.Helper()
		for _, p := range [][2]string{{"container.a", "10.77.1.2"}, {"container.b", "10.77.2.3"}, {"container.b", "10.77.3.4"}, {"container.c", "10.77.2.2"}} {
			if !c.ping(p[0], p[1]) {
				// What the namespaces hold, for whoever reads the failure.
				var dump strings.Builder
				for _, ns := range []string{hostNetns(h1), hostNetns(h2), c.netns(p[0])} {
					out, _ := exec.Command("ip", "-n", ns, "-d", "link", "show").CombinedOutput()
					fmt.Fprintf(&dump, "== ip -n %s -d link show\n%s", ns, out)
				}
				t.Fatalf("%s cannot ping %s\n%s", p[0], p[1], dump.String())
			}
		}
	}
	pings()

	// Checks probe from nodes on other hosts, there.
	if out := c.must(0, "test"); !strings.Contains(out, "across_hosts") {
		t.Fatalf("labform test does not report the check:\n%s", out)
	}

	// exec and status reach nodes on other hosts: the command's output
	// and exit status come back; status names each node's host.
	code, out := c.run("exec", "container.c", "--", "sh", "-c", "echo on-$(cat /proc/sys/kernel/hostname 2>/dev/null || echo c); ip addr show eth0 | grep -c 10.77.2.3; exit 3")
	if code != 3 || !strings.Contains(out, "on-") || !strings.Contains(out, "1") {
		t.Fatalf("exec on host %s's container: exit %d, want 3 with its output:\n%s", h2.Name, code, out)
	}
	if out := c.must(0, "exec", "container.b", "--", "busybox", "ping", "-c", "1", "-W", "2", "10.77.2.3"); !strings.Contains(out, "1 packets received") {
		t.Fatalf("exec of ping in b on host %s:\n%s", h1.Name, out)
	}
	if code, out := c.run("exec", "container.c", "--", "/no/such/command"); code == 0 {
		t.Fatalf("exec of a missing command on host %s succeeded:\n%s", h2.Name, out)
	}
	// The console of a container on a host: its shell on a terminal
	// there, which exits at the end of the input.
	if code, out := c.runIn("echo hello-$((6*7))\nexit\n", "console", "container.c"); code != 0 || !strings.Contains(out, "hello-42") || !strings.Contains(out, "was closed") {
		t.Fatalf("console of container.c on host %s: exit %d:\n%s", h2.Name, code, out)
	}
	status := c.must(0, "status", "-json")
	for _, want := range []string{`"host": "` + h1.Name + `"`, `"host": "` + h2.Name + `"`} {
		if !strings.Contains(status, want) {
			t.Errorf("status -json does not say %s:\n%s", want, status)
		}
	}

	// 2 MiB at 8 Mbit/s across the VXLAN link takes 2.1 s.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sinkPath := filepath.Join(dir, "sink")
	sink, _ := os.Create(sinkPath)
	listener := exec.CommandContext(ctx, "ip", "netns", "exec", c.netns("container.b"), "busybox", "nc", "-l", "-p", "5001")
	listener.Stdout = sink
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", c.netns("container.a"), "busybox", "nc", "10.77.1.2", "5001",
		"-e", "busybox", "dd", "if=/dev/zero", "bs=1024", "count=2048").CombinedOutput(); err != nil {
		t.Fatalf("sending: %v: %s", err, out)
	}
	listener.Wait()
	elapsed := time.Since(start)
	sink.Close()
	if st, _ := os.Stat(sinkPath); st == nil || st.Size() != 2<<20 {
		t.Fatalf("the receiver got %v", st)
	}
	t.Logf("2 MiB at 8mbit across hosts took %v (2.1 s expected)", elapsed)
	if elapsed < 1680*time.Millisecond || elapsed > 2520*time.Millisecond {
		t.Fatalf("2 MiB at 8mbit took %v, want 2.1 s within 20%%", elapsed)
	}

	// A link across hosts set down pulls the cable on both hosts: b and
	// c both see their port lose carrier, and nothing crosses; up again,
	// it carries again.
	c.must(0, "apply", "-auto-approve", "-var", "bc_state=down")
	carrier := func(node, dev string) string {
		b, _ := exec.Command("ip", "netns", "exec", c.netns(node), "cat", "/sys/class/net/"+dev+"/carrier").CombinedOutput()
		return strings.TrimSpace(string(b))
	}
	for _, end := range [][2]string{{"container.b", "eth1"}, {"container.c", "eth0"}} {
		var got string
		for i := 0; i < 50; i++ {
			if got = carrier(end[0], end[1]); got == "0" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got != "0" {
			t.Fatalf("with link bc down, %s's %s has carrier %q, want 0", end[0], end[1], got)
		}
	}
	if exec.Command("ip", "netns", "exec", c.netns("container.b"), "busybox", "ping", "-c", "1", "-W", "1", "10.77.2.3").Run() == nil {
		t.Fatal("b still pings c over link bc set down")
	}
	c.must(0, "apply", "-auto-approve")
	if !c.ping("container.b", "10.77.2.3") {
		t.Fatal("b cannot ping c after link bc was set up again")
	}

	// Drift on host 2: its container killed; on host 1: the tunnel of bc
	// deleted. Plan sees both; apply repairs them.
	if out, err := exec.Command("ip", "netns", "pids", c.netns("container.c")).Output(); err == nil {
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", "-9", pid).Run()
		}
	}
	tunnels, err := exec.Command("ip", "-n", hostNetns(h1), "-br", "link", "show", "type", "vxlan").CombinedOutput()
	deleted := 0
	for _, line := range strings.Split(strings.TrimSpace(string(tunnels)), "\n") {
		if f := strings.Fields(line); err == nil && len(f) > 0 {
			dev, _, _ := strings.Cut(f[0], "@")
			if out, err := exec.Command("ip", "-n", hostNetns(h1), "link", "del", dev).CombinedOutput(); err != nil {
				t.Fatalf("deleting %s on host %s: %v: %s", dev, h1.Name, err, out)
			}
			deleted++
		}
	}
	if deleted != 2 {
		t.Fatalf("host %s has %d VXLAN interfaces, want 2 (ab and bc): %v: %s", h1.Name, deleted, err, tunnels)
	}
	time.Sleep(200 * time.Millisecond)
	out = c.must(2, "plan", "-detailed-exitcode")
	for _, want := range []string{"container.c", "link.bc"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan does not mention %s:\n%s", want, out)
		}
	}
	c.must(0, "apply", "-auto-approve")
	if out := c.must(0, "plan", "-detailed-exitcode"); !strings.Contains(out, "No changes") {
		t.Fatalf("the plan after the repair is not empty:\n%s", out)
	}
	pings()

	// c replaced on host 2 (its rootfs path changes): b, on host 1, knew
	// the old c's MAC address; it must forget it, though nothing on its
	// host changed, and reach the new c at once.
	if err := os.Symlink("rootfs", filepath.Join(dir, "rootfs2")); err != nil {
		t.Fatal(err)
	}
	if out := c.must(2, "plan", "-detailed-exitcode", "-var", "c_rootfs=rootfs2"); !strings.Contains(out, "container.c must be replaced") {
		t.Fatalf("changing c's rootfs does not replace it:\n%s", out)
	}
	c.must(0, "apply", "-auto-approve", "-var", "c_rootfs=rootfs2")
	if exec.Command("ip", "netns", "exec", c.netns("container.b"), "busybox", "ping", "-c", "1", "-W", "2", "10.77.2.3").Run() != nil {
		var dump strings.Builder
		out, _ := exec.Command("ip", "-n", c.netns("container.b"), "neigh").CombinedOutput()
		fmt.Fprintf(&dump, "b's neighbors:\n%s", out)
		t.Fatalf("b cannot ping the new c at once\n%s", dump.String())
	}
	c.must(0, "apply", "-auto-approve")

	// Host 2 unreachable: only its objects fail, with the SSH error; the
	// rest is planned with it left out.
	h2.Stop()
	code, out = c.run("plan")
	if code != 1 || !strings.Contains(out, "host "+h2.Name) || !strings.Contains(out, "connection refused") {
		t.Fatalf("plan with host %s down: exit %d, want 1 with its SSH error:\n%s", h2.Name, code, out)
	}
	for _, other := range []string{"container.a:", "container.b:", "container.d:", "link.bd:", "link.ab:"} {
		if strings.Contains(out, other) {
			t.Errorf("an object not on host %s failed (%s):\n%s", h2.Name, other, out)
		}
	}
	if out := c.must(0, "plan", "-detailed-exitcode", "-exclude=host."+h2.Name); !strings.Contains(out, "No changes") {
		t.Fatalf("plan without host %s is not empty:\n%s", h2.Name, out)
	}
	h2.Start(t)

	// d moves to host 2: it is replaced there, bd becomes a link across
	// hosts, and d's chain follows it.
	src = fmt.Sprintf(hostsLab, name, sim.Block(h1), sim.Block(h2), h1.Name, h2.Name, h2.Name)
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out = c.must(2, "plan", "-detailed-exitcode")
	for _, want := range []string{"container.d must be replaced", "link.bd must be replaced", "firewall_chain.d_in must be replaced"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan of d's move does not say %q:\n%s", want, out)
		}
	}
	c.must(0, "apply", "-auto-approve")
	if out := c.must(0, "plan", "-detailed-exitcode"); !strings.Contains(out, "No changes") {
		t.Fatalf("the plan after d's move is not empty:\n%s", out)
	}
	if !c.ping("container.b", "10.77.3.4") {
		var dump strings.Builder
		for _, ns := range []string{hostNetns(h1), hostNetns(h2), c.netns("container.b"), c.netns("container.d")} {
			for _, args := range [][]string{{"-d", "-s", "link", "show"}, {"neigh"}, {"addr"}} {
				out, _ := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
				fmt.Fprintf(&dump, "== ip -n %s %v\n%s", ns, args, out)
			}
			out, _ := exec.Command("bridge", "-n", ns, "fdb", "show").CombinedOutput()
			fmt.Fprintf(&dump, "== bridge -n %s fdb show\n%s", ns, out)
		}
		for _, h := range sim.Hosts {
			out, _ := exec.Command("ip", "netns", "exec", h.Netns, "ss", "-uanp").CombinedOutput()
			fmt.Fprintf(&dump, "== ss -uan in %s\n%s", h.Name, out)
		}
		t.Fatalf("after d's move, container.b cannot ping d\n%s", dump.String())
	}

	// Destroy leaves nothing on any host: no lab namespace, no container
	// namespace, no runc container under the hosts' runtime roots.
	var gone []string
	for _, n := range []string{"container.a", "container.b", "container.c", "container.d"} {
		gone = append(gone, filepath.Join(labnet.Dir, c.netns(n)))
	}
	for _, ns := range []string{providers.LabNetns(name), hostNetns(h1), hostNetns(h2)} {
		gone = append(gone, filepath.Join(labnet.Dir, ns))
	}
	c.must(0, "destroy", "-auto-approve")
	for _, p := range gone {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("destroy left %s", p)
		}
	}
	for _, id := range []string{labID, agent.HostLabID(labID, h1.Name), agent.HostLabID(labID, h2.Name)} {
		if left := systest.RuncIDs(t, container.RuntimeRoot(id)); len(left) > 0 {
			t.Errorf("destroy left runc containers under %s: %v", container.RuntimeRoot(id), left)
		}
	}
}
