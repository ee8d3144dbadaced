package container

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
)

func requireTools(t testing.TB, tools ...string) { t.Helper(); systest.Require(t, tools...) }

// sysLab is a lab with the real container provider and a busybox rootfs.
type sysLab struct {
	*systest.Lab
	prov *Provider
}

func newSysLab(t testing.TB) *sysLab {
	requireTools(t, "runc", "busybox")
	l := &sysLab{prov: New()}
	l.Lab = systest.NewLab(t, fmt.Sprintf("lfct%d", os.Getpid()%100000), l.prov)
	systest.BusyboxRootfs(t, filepath.Join(l.Dir, "rootfs"), "sh", "sleep", "ping", "ip", "cat")
	t.Cleanup(func() {
		// Destroy through labform, then make sure by hand: nothing of this
		// test may outlive it, even when it failed halfway.
		l.DestroyQuietly()
		root := RuntimeRoot(l.LabID())
		if list, err := (ociRuntime{path: "runc", root: root}).list(context.Background()); err == nil {
			for id := range list {
				exec.Command("runc", "--root", root, "delete", "-f", id).Run()
			}
		}
		os.RemoveAll(root)
		for _, a := range []string{"container.a", "container.b"} {
			labnet.DeleteNetns(nameFor(l.ID(a)).netns)
		}
		labnet.DeleteNetns(providers.LabNetns(l.Name))
	})
	return l
}

func (l *sysLab) state(addr string) containerState {
	l.T.Helper()
	st, err := l.prov.rt.state(context.Background(), nameFor(l.ID(addr)).id)
	if err != nil {
		l.T.Fatal(err)
	}
	return st
}

// exec runs a command in a container, its output on a file (never a pipe).
func (l *sysLab) exec(addr string, args ...string) (string, error) {
	f, _ := os.CreateTemp(l.Dir, "exec")
	defer f.Close()
	cmd := exec.Command("runc", append([]string{"--root", l.prov.rt.root, "exec", nameFor(l.ID(addr)).id}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	err := cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

func actionOf(p *planner.Plan, addr string) string {
	for _, c := range p.Changes {
		if c.Addr.String() == addr {
			return string(c.Action) + "/" + c.Cost.String()
		}
	}
	return "absent"
}

const twoContainers = `
container "a" {
  rootfs       = "rootfs"
  command      = ["sleep", "3600"]
  ports        = 1
  capabilities = ["CAP_NET_RAW"]
  addresses = {
    eth0 = ["10.201.0.1/24"]
  }
  resources {
    memory = "MEM"
  }
  state = "STATE"
}

container "b" {
  rootfs       = "rootfs"
  command      = ["sleep", "3600"]
  ports        = 1
  capabilities = ["CAP_NET_RAW"]
  addresses = {
    eth0 = ["10.201.0.2/24", "fd00:201::2/64"]
  }
}
`

func lab(mem, st string) string {
	return strings.NewReplacer("MEM", mem, "STATE", st).Replace(twoContainers)
}

func TestSystem_containerLifecycle(t *testing.T) {
	l := newSysLab(t)
	l.Write(lab("64MiB", "running"))
	l.Apply(planner.NormalMode)
	a, b := l.state("container.a"), l.state("container.b")
	if a.Status != "running" || b.Status != "running" {
		t.Fatalf("after apply: a %s, b %s", a.Status, b.Status)
	}

	// Join the lab-side ends of the two ports with a bridge in the lab's
	// namespace, as the link provider (issue 4) will.
	labH, labNs, err := labnet.HandleIn(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer labNs.Close()
	defer labH.Close()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "lftbr0"}}
	if err := labH.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	labH.LinkSetUp(br)
	for _, addr := range []string{"container.a", "container.b"} {
		port, err := labH.LinkByName(nameFor(l.ID(addr)).labPort(0))
		if err != nil {
			t.Fatalf("%s's port 0 is not in the lab namespace: %v", addr, err)
		}
		labH.LinkSetMaster(port, br)
	}
	if out, err := l.exec("container.a", "ping", "-c", "1", "-W", "3", "10.201.0.2"); err != nil {
		t.Fatalf("ping a -> b: %v\n%s", err, out)
	}
	if out, _ := exec.Command("ip", "netns", "exec", nameFor(l.ID("container.b")).netns, "ip", "-6", "-br", "addr").CombinedOutput(); !strings.Contains(string(out), "fd00:201::2/64") {
		t.Fatalf("b lacks its IPv6 address:\n%s", out)
	}

	// Paused behind labform's back: drift, and apply resumes it.
	exec.Command("runc", "--root", l.prov.rt.root, "pause", nameFor(l.ID("container.b")).id).Run()
	_, plan0 := l.Plan(planner.NormalMode)
	if len(plan0.Drift) != 1 || actionOf(plan0, "container.b") != "update/in-place" {
		t.Fatalf("after runc pause: drift %d, action %s", len(plan0.Drift), actionOf(plan0, "container.b"))
	}
	l.Apply(planner.NormalMode)
	if st := l.state("container.b"); st.Status != "running" || st.Pid != b.Pid {
		t.Fatalf("after repairing the pause: %s pid %d (was %d)", st.Status, st.Pid, b.Pid)
	}

	// Pause in place: same pid.
	l.Write(lab("64MiB", "paused"))
	_, plan := l.Plan(planner.NormalMode)
	if got := actionOf(plan, "container.a"); got != "update/in-place" {
		t.Fatalf("pausing: %s", got)
	}
	l.Apply(planner.NormalMode)
	if st := l.state("container.a"); st.Status != "paused" || st.Pid != a.Pid {
		t.Fatalf("paused: %s pid %d (was %d)", st.Status, st.Pid, a.Pid)
	}

	// Resume and raise the memory limit in place: same pid, new limit.
	l.Write(lab("96MiB", "running"))
	l.Apply(planner.NormalMode)
	st := l.state("container.a")
	if st.Status != "running" || st.Pid != a.Pid {
		t.Fatalf("after the in-place update: %s pid %d (was %d)", st.Status, st.Pid, a.Pid)
	}
	if got := memoryLimit(t, st.Pid); got != 96<<20 {
		t.Fatalf("memory limit %d, want %d", got, 96<<20)
	}

	// Drift: killed behind labform's back. The plan sees it and apply
	// starts it again, in the same namespace (its address stays).
	exec.Command("runc", "--root", l.prov.rt.root, "kill", nameFor(l.ID("container.a")).id, "KILL").Run()
	waitStopped(t, l, "container.a")
	_, plan = l.Plan(planner.NormalMode)
	if len(plan.Drift) != 1 || actionOf(plan, "container.a") != "update/in-place" {
		t.Fatalf("after runc kill: drift %d, action %s", len(plan.Drift), actionOf(plan, "container.a"))
	}
	l.Apply(planner.NormalMode)
	if st := l.state("container.a"); st.Status != "running" || st.Pid == a.Pid {
		t.Fatalf("after repair: %s pid %d", st.Status, st.Pid)
	}
	if out, err := l.exec("container.a", "ping", "-c", "1", "-W", "3", "10.201.0.2"); err != nil {
		t.Fatalf("ping after the restart: %v\n%s", err, out)
	}

	// Addresses change in place: same pid, the new address is live.
	b = l.state("container.b")
	l.Write(strings.Replace(lab("96MiB", "running"), "10.201.0.2/24", "10.201.0.3/24", 1))
	_, plan = l.Plan(planner.NormalMode)
	if got := actionOf(plan, "container.b"); got != "update/in-place" {
		t.Fatalf("changing an address: %s", got)
	}
	l.Apply(planner.NormalMode)
	if st := l.state("container.b"); st.Pid != b.Pid {
		t.Fatalf("changing an address restarted b (pid %d, was %d)", st.Pid, b.Pid)
	}
	if out, err := l.exec("container.a", "ping", "-c", "1", "-W", "3", "10.201.0.3"); err != nil {
		addrs, _ := exec.Command("ip", "netns", "exec", nameFor(l.ID("container.b")).netns, "ip", "-br", "addr").CombinedOutput()
		t.Fatalf("ping the new address: %v\n%s\nb's addresses:\n%s", err, out, addrs)
	}

	// An address removed by hand inside the namespace is drift; apply puts
	// it back without a restart.
	exec.Command("ip", "netns", "exec", nameFor(l.ID("container.b")).netns, "ip", "addr", "del", "10.201.0.3/24", "dev", "eth0").Run()
	_, plan = l.Plan(planner.NormalMode)
	if len(plan.Drift) != 1 || actionOf(plan, "container.b") != "update/in-place" {
		t.Fatalf("an address removed by hand: drift %d, action %s", len(plan.Drift), actionOf(plan, "container.b"))
	}
	l.Apply(planner.NormalMode)
	if out, err := l.exec("container.a", "ping", "-c", "1", "-W", "3", "10.201.0.3"); err != nil {
		t.Fatalf("the address was not repaired: %v\n%s", err, out)
	}
	if st := l.state("container.b"); st.Pid != b.Pid {
		t.Fatalf("repairing an address restarted b (pid %d, was %d)", st.Pid, b.Pid)
	}

	// A port whose lab side vanished is drift; apply repairs it.
	port, _ := labH.LinkByName(nameFor(l.ID("container.b")).labPort(0))
	labH.LinkDel(port)
	_, plan = l.Plan(planner.NormalMode)
	if len(plan.Drift) != 1 || actionOf(plan, "container.b") == "no-op/none" {
		t.Fatalf("a vanished port: drift %d, action %s", len(plan.Drift), actionOf(plan, "container.b"))
	}
	l.Apply(planner.NormalMode)
	if _, err := labH.LinkByName(nameFor(l.ID("container.b")).labPort(0)); err != nil {
		t.Fatal("apply did not bring the port back")
	}

	// Deleted behind labform's back: apply creates it again.
	exec.Command("runc", "--root", l.prov.rt.root, "delete", "-f", nameFor(l.ID("container.b")).id).Run()
	_, plan = l.Plan(planner.NormalMode)
	if got := actionOf(plan, "container.b"); got != "create/none" {
		t.Fatalf("after runc delete: %s", got)
	}
	l.Apply(planner.NormalMode)
	if st := l.state("container.b"); st.Status != "running" {
		t.Fatalf("not recreated: %s", st.Status)
	}

	// Destroy leaves nothing: no container, cgroup, namespace, bundle or
	// lab netns.
	cgroup := memoryCgroupDir(t, l.state("container.a").Pid)
	labH.LinkDel(br)
	l.Apply(planner.DestroyMode)
	if fileExists(cgroup) {
		t.Errorf("the container's cgroup %s is left", cgroup)
	}
	if list, _ := l.prov.rt.list(context.Background()); len(list) != 0 {
		t.Errorf("containers left: %v", list)
	}
	for _, addr := range []string{"container.a", "container.b"} {
		n := nameFor(l.ID(addr))
		if _, err := os.Stat(filepath.Join(labnet.Dir, n.netns)); err == nil {
			t.Errorf("%s's namespace is left", addr)
		}
		if _, err := os.Stat(l.prov.bundle(n)); err == nil {
			t.Errorf("%s's bundle is left", addr)
		}
	}
	if _, err := os.Stat(filepath.Join(labnet.Dir, providers.LabNetns(l.Name))); err == nil {
		t.Error("the lab namespace is left")
	}
}

func TestSystem_clearErrors(t *testing.T) {
	l := newSysLab(t)
	l.Write(`
container "a" {
  rootfs  = "nosuchdir"
  command = ["sleep", "1"]
}
container "b" {
  rootfs  = "rootfs"
  command = ["nosuchcommand"]
}
container "c" {
  rootfs  = "rootfs"
  command = ["sleep", "1"]
  sysctl = {
    "net.nosuch.knob" = "1"
  }
}
`)
	p, plan := l.Plan(planner.NormalMode)
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "nosuchdir does not exist") || !strings.Contains(err.Error(), `the command "nosuchcommand" is not in `) {
		t.Fatalf("want clear errors for a missing rootfs and command, got %v", err)
	}
	// runc's own refusal comes with its words and the bundle's path.
	if !strings.Contains(err.Error(), "runc said:") || !strings.Contains(err.Error(), "nosuch") || !strings.Contains(err.Error(), "bundle "+l.prov.lab.WorkDir) {
		t.Fatalf("want runc's message and the bundle path, got %v", err)
	}
	if n := nameFor(l.ID("container.c")); fileExists(filepath.Join(labnet.Dir, n.netns)) || fileExists(l.prov.bundle(n)) {
		t.Error("a failed create left its namespace or bundle behind")
	}
	// The refused ones leave no journal entry; the one runc failed keeps
	// its entry, so that the next plan looks for what it may have left.
	j, _ := l.Store.Journal()
	if len(j) != 1 || j[0].Addr != "container.c" {
		t.Errorf("open journal entries: %v, want only container.c's", j)
	}
}

func memoryLimit(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(filepath.Join(memoryCgroupDir(t, pid), "memory.limit_in_bytes"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	fmt.Sscan(string(b), &n)
	return n
}

// memoryCgroupDir is the v1 memory cgroup directory of a process.
func memoryCgroupDir(t *testing.T, pid int) string {
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] == "memory" {
			return filepath.Join("/sys/fs/cgroup/memory", parts[2])
		}
	}
	t.Fatal("no memory cgroup")
	return ""
}

func waitStopped(t *testing.T, l *sysLab, addr string) {
	for i := 0; i < 200; i++ {
		if l.state(addr).Status == "stopped" {
			return
		}
		exec.Command("sleep", "0.02").Run()
	}
	t.Fatalf("%s did not stop", addr)
}

// evalContainer evaluates one container block written in HCL.
func evalContainer(t testing.TB, src string) cty.Value {
	l := config.NewLab("/lab", providers.NewRegistry())
	l.Registry.Register(New())
	diags := l.AddFile("c.lab.hcl", []byte(src))
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	if diags = append(diags, more...); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return d.Instances[d.Order[0]].Value
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestSystem_providerSettingsReachRefresh: the provider block, set from a
// variable, configures the provider before refresh (it used to be
// configured before the configuration was evaluated, so refresh ran the
// default runtime).
func TestSystem_providerSettingsReachRefresh(t *testing.T) {
	l := newSysLab(t)
	logf := filepath.Join(l.Dir, "runtime.log")
	wrapper := filepath.Join(l.Dir, "myruntime")
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$@\" >> " + logf + "\nexec " + runc + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l.Write(`
variable "runtime" {
  type    = string
  default = "` + wrapper + `"
}
provider "container" {
  runtime = var.runtime
}
container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}
`)
	l.Apply(planner.NormalMode)
	os.Remove(logf)
	l.Plan(planner.NormalMode)
	b, _ := os.ReadFile(logf)
	if !strings.Contains(string(b), "list") {
		t.Fatalf("refresh did not run the configured runtime %s (its log: %q)", wrapper, b)
	}
}

// TestSystem_portDeletedByHandAndSecrets: a container's bundle holds a
// sensitive env value, so it is its owner's only (0600 in a 0700
// directory). A port deleted by hand inside the container's namespace is
// drift that apply repairs in place, adding back that one veth: the
// container keeps its pid and its other ports.
func TestSystem_portDeletedByHandAndSecrets(t *testing.T) {
	l := newSysLab(t)
	const secret = "s3cr3t-labform-value"
	l.Write(`
variable "token" {
  default   = "` + secret + `"
  sensitive = true
}

container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
  ports   = 4
  env     = { TOKEN = var.token }
  addresses = {
    eth2 = ["10.202.0.1/24"]
  }
}
`)
	l.Apply(planner.NormalMode)
	n := nameFor(l.ID("container.a"))
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{l.prov.bundle(n), 0o700}, {filepath.Dir(l.prov.bundle(n)), 0o700}, {filepath.Join(l.prov.bundle(n), "config.json"), 0o600}, {filepath.Join(l.prov.bundle(n), "container.log"), 0o600}} {
		st, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("%s has mode %o, want %o", f.path, st.Mode().Perm(), f.mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(l.prov.bundle(n), "config.json")); !strings.Contains(string(b), secret) {
		t.Fatal("config.json lacks the env value: the test checks nothing")
	}
	// runc keeps its own copy of the config in its state directory.
	filepath.Walk(RuntimeRoot(l.Dir), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		if b, _ := os.ReadFile(path); strings.Contains(string(b), secret) {
			if info.Mode().Perm()&0o077 != 0 {
				t.Errorf("runc's %s holds the secret with mode %o", path, info.Mode().Perm())
			}
		}
		return nil
	})
	pid := l.state("container.a").Pid

	// eth2 deleted by hand inside the container's namespace.
	if out, err := exec.Command("ip", "netns", "exec", n.netns, "ip", "link", "del", "eth2").CombinedOutput(); err != nil {
		t.Fatalf("ip link del eth2: %v\n%s", err, out)
	}
	_, plan := l.Plan(planner.NormalMode)
	if len(plan.Drift) != 1 || actionOf(plan, "container.a") != "update/in-place" {
		t.Fatalf("a port deleted by hand: drift %d, action %s", len(plan.Drift), actionOf(plan, "container.a"))
	}
	drift := plan.Drift[0]
	if got := drift.After.GetAttr("ports"); !got.RawEquals(cty.NumberIntVal(4)) {
		t.Errorf("refresh says ports = %#v, want 4 (the count is not what drifted)", got)
	}
	if got := drift.After.GetAttr("state").AsString(); got != "running (port eth2 missing)" {
		t.Errorf("refresh says state = %q", got)
	}
	l.Apply(planner.NormalMode)
	out, err := exec.Command("ip", "netns", "exec", n.netns, "ip", "-br", "addr").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.202.0.1/24") {
		t.Fatalf("eth2 or its address is not back: %v\n%s", err, out)
	}
	for i := 0; i < 4; i++ {
		if !strings.Contains(string(out), fmt.Sprintf("eth%d@", i)) {
			t.Errorf("eth%d missing after the repair:\n%s", i, out)
		}
	}
	if st := l.state("container.a"); st.Pid != pid || st.Status != "running" {
		t.Errorf("the repair restarted the container: %s pid %d (was %d)", st.Status, st.Pid, pid)
	}
	if _, plan := l.Plan(planner.NormalMode); len(plan.Drift) != 0 || actionOf(plan, "container.a") != "no-op/none" {
		t.Errorf("after the repair: drift %d, action %s", len(plan.Drift), actionOf(plan, "container.a"))
	}

	// The lab namespace deleted by hand takes every port along: all come
	// back in place, in a new lab namespace.
	if err := labnet.DeleteNetns(providers.LabNetns(l.Name)); err != nil {
		t.Fatal(err)
	}
	_, plan = l.Plan(planner.NormalMode)
	if actionOf(plan, "container.a") != "update/in-place" {
		t.Fatalf("the lab namespace deleted: action %s", actionOf(plan, "container.a"))
	}
	l.Apply(planner.NormalMode)
	links, err := labnet.Links(providers.LabNetns(l.Name))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if !links[n.labPort(i)] {
			t.Errorf("port %d is not back in the lab namespace", i)
		}
	}
	if st := l.state("container.a"); st.Pid != pid {
		t.Errorf("the repair restarted the container: pid %d (was %d)", st.Pid, pid)
	}
}
