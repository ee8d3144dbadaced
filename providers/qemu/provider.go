package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labform/labform/internal/ctyobj"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/cidata"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

// Configure takes the provider block's settings. Each is read only when
// set, so that New's defaults (accel auto, platform x86_64) hold for a
// lab that has no qemu provider block at all.
func (p *Provider) Configure(_ context.Context, req providers.ConfigureRequest) error {
	p.lab = req.Lab
	if v := req.Config; !v.IsNull() {
		if s := providers.String(v, "binary"); s != "" {
			p.binary = s
		}
		if s := providers.String(v, "accel"); s != "" {
			p.accel = s
		}
		if s := providers.String(v, "platform"); s != "" {
			p.platform = s
		}
	}
	var err error
	p.timeout, err = providers.ToolTimeout(req.Config)
	return err
}

// binaryFor is the qemu-system binary of a platform: the provider's
// binary setting, or qemu-system-<platform> from PATH.
func (p *Provider) binaryFor(platform string) string {
	if p.binary != "" {
		return p.binary
	}
	return "qemu-system-" + platform
}

// imgPath is the qemu-img beside the qemu binary (so that both come from
// one QEMU build), else the one on PATH.
func (p *Provider) imgPath() string {
	bin := p.binaryFor(p.platform)
	if path, err := exec.LookPath(bin); err == nil {
		img := filepath.Join(filepath.Dir(path), "qemu-img")
		if _, err := os.Stat(img); err == nil {
			return img
		}
	}
	return "qemu-img"
}

// kvmUsable reports whether /dev/kvm can be opened for use.
func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// accelOf is the accelerator a VM starts with: its own accel, else the
// provider's. auto is decided here, at each start, by opening /dev/kvm:
// a lab written on a laptop with KVM still runs (slowly, with tcg) on a
// CI machine without it.
func (p *Provider) accelOf(v cty.Value) string {
	a := providers.String(v, "accel")
	if a == "" {
		a = p.accel
	}
	if a == "auto" {
		if kvmUsable() {
			return "kvm"
		}
		return "tcg"
	}
	return a
}

// ValidateResource checks a VM's arguments when they are all known. An
// argument that is not known yet (it comes from a resource not created
// yet) cannot be judged, and is not refused for it.
func (p *Provider) ValidateResource(typ string, v cty.Value) []*providers.AttrError {
	if typ != "vm" || !argumentsKnown(v) {
		return nil
	}
	return validate(v)
}

// argumentsKnown reports whether the attributes a lab writes are known:
// at validate, the computed ones (pid, console_port, ...) are not yet,
// which must not keep the arguments from being checked.
func argumentsKnown(v cty.Value) bool {
	if !v.IsKnown() || v.IsNull() {
		return false
	}
	known := true
	ctyobj.Attributes(v, func(name string, a cty.Value) bool {
		switch name {
		case "pid", "mac_addresses", "qmp_socket", "console_port": // computed; validate checks a known console_port
			return true
		}
		known = ctyobj.WhollyKnown(a)
		return known
	})
	return known
}

// CheckHost refuses accel = "kvm" on a host without a usable /dev/kvm, at
// plan time rather than as a QEMU error at apply.
func (p *Provider) CheckHost(typ string, v cty.Value) []*providers.AttrError {
	if typ != "vm" {
		return nil
	}
	if a := providers.String(v, "accel"); (a == "kvm" || a == "" && p.accel == "kvm") && !kvmUsable() {
		return []*providers.AttrError{{Path: cty.GetAttrPath("accel"), Summary: "KVM is not available",
			Detail: "accel = \"kvm\" needs a usable /dev/kvm, which this host lacks (no hardware virtualisation, or no permission). Use accel = \"auto\" to fall back to tcg."}}
	}
	return nil
}

// private is what labform keeps about a running VM: the process (pid and
// start time, never a name) and the console port it was given.
type private struct {
	Pid   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
	Port  int    `json:"port,omitempty"`
	// Files is the digest of the config disk the process started with
	// (cidata.Disk.Digest): a source file of a file block changed since
	// then asks for a restart.
	Files string `json:"files,omitempty"`
}

// dirOf is the working directory of the VM of the given object ID: short,
// because the QMP socket's path must fit in 108 bytes.
func (p *Provider) dirOf(id string) string { return filepath.Join(p.lab.WorkDir, id[:12]) }

// RunRoot holds each VM's run directory (QMP socket, pidfile), named by
// its object ID.
var RunRoot = "/run/labform/qemu"

// runDirOf is the VM's run directory.
func runDirOf(id string) string { return filepath.Join(RunRoot, id) }

// cgroupID names the VM's cpu cgroup: its object ID, unique on the host.
func cgroupID(id string) string { return id }

// config resolves a planned value into what one start needs; sensitive
// are the paths of v that hold sensitive values.
func (p *Provider) config(addr, id string, v cty.Value, port int, sensitive []cty.Path) (*vmConfig, error) {
	c := &vmConfig{
		Addr: addr, ID: id, UUID: vmUUID(id, addr), Dir: p.dirOf(id), RunDir: runDirOf(id),
		Platform: providers.String(v, "platform"), Accel: p.accelOf(v),
		Memory: num(v, "memory"), CPUs: num(v, "cpus"), Adapters: num(v, "adapters"),
		NIC: providers.String(v, "adapter_type"), CDROM: resolve(p.lab.Dir, providers.String(v, "cdrom")),
		BIOS: resolve(p.lab.Dir, providers.String(v, "bios")), Kernel: resolve(p.lab.Dir, providers.String(v, "kernel")),
		Initrd: resolve(p.lab.Dir, providers.String(v, "initrd")), KernelArgs: providers.String(v, "kernel_args"),
		BootOrder: providers.String(v, "boot_order"), Console: providers.String(v, "console"), Port: port,
		Paused:     providers.StateOf(v) == providers.Paused,
		GuestAgent: hasGuestAgent(v),
	}
	if c.Platform == "" {
		c.Platform = p.platform
	}
	if c.NIC == "" {
		c.NIC = "e1000"
	}
	c.MACs = macs(providers.String(v, "mac_address"), id, c.Adapters) // the object's own: kept by a state mv, new for a create_before_destroy
	c.MgmtMAC = managementMAC(v, id, c.Adapters)
	if img := providers.String(v, "image"); img != "" {
		c.Disks = append(c.Disks, disk{Slot: "hda", Image: resolve(p.lab.Dir, img), Interface: providers.String(v, "hda_interface")})
	}
	if d := v.GetAttr("disk"); !d.IsNull() {
		m := d.AsValueMap()
		for _, slot := range slices.Sorted(maps.Keys(m)) {
			c.Disks = append(c.Disks, disk{Slot: slot, Image: resolve(p.lab.Dir, providers.String(m[slot], "image")), Interface: providers.String(m[slot], "interface")})
		}
	}
	extra, err := extraArgs(providers.String(v, "extra_args"), c, p.lab.Name, p.lab.Dir)
	if err != nil {
		return nil, fmt.Errorf("extra_args: %w", err)
	}
	c.Extra = extra
	if len(extra) > 0 && isSensitive("extra_args", sensitive) {
		h, err := hideArgs(extra, c.Dir)
		if err != nil {
			return nil, err
		}
		c.Extra, c.Hidden = h.Args, h.Files
	}
	if c.KernelArgs != "" && isSensitive("kernel_args", sensitive) {
		if err := hideKernelArgs(c); err != nil {
			return nil, err
		}
	}
	if cidata.Wanted(v) {
		d, err := cidata.FromValue(v, p.lab.Dir)
		if err != nil {
			return nil, err
		}
		d.Identify(id, addr)
		c.ConfigDisk, c.CIData = d, filepath.Join(c.Dir, ciDataFile)
	}
	c.Secrets = sensitiveStrings(v, sensitive)
	if sock := filepath.Join(c.RunDir, qmpFile); len(sock) > 107 {
		return nil, fmt.Errorf("the QMP socket path %s is %d bytes, over the 107 a unix socket allows; move the lab to a shorter path", sock, len(sock))
	}
	return c, nil
}

// checkFiles names the first file of the VM that is missing.
func checkFiles(c *vmConfig) error {
	for _, d := range c.Disks {
		if err := checkImage("disk "+d.Slot+" image", d.Image); err != nil {
			return err
		}
	}
	for _, f := range []struct{ what, path string }{{"cdrom", c.CDROM}, {"bios", c.BIOS}, {"kernel", c.Kernel}, {"initrd", c.Initrd}} {
		if f.path != "" {
			if err := checkImage(f.what, f.path); err != nil {
				return err
			}
		}
	}
	return nil
}

// allocPort finds a free console port: the one asked for, or the first
// free one from the console type's base (5900 for VNC displays, 5000
// otherwise) that this process has not handed out.
func (p *Provider) allocPort(console string, want int) (int, error) {
	if console == "none" {
		return 0, nil
	}
	if want > 0 {
		return want, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	base := 5000
	if console == "vnc" {
		base = 5900
	}
	for port := base; port < base+5000; port++ {
		if p.ports[port] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		p.ports[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("no free console port from %d to %d", base, base+5000)
}

// start opens the VM's taps in the lab namespace, starts QEMU (which
// daemonizes once it is initialized, so its parent's exit means QMP is
// ready) and checks it over QMP.
func (p *Provider) start(ctx context.Context, c *vmConfig, v cty.Value) (private, error) {
	if err := p.workDir(c); err != nil {
		return private{}, err
	}
	if err := providers.PrivateDir(c.RunDir); err != nil {
		return private{}, err
	}
	// Hidden files of an earlier start that this one does not use go: a
	// value that is no longer sensitive, or no longer there.
	old, _ := filepath.Glob(filepath.Join(c.Dir, "secret-*"))
	for _, f := range append(old, filepath.Join(c.Dir, hiddenFile)) {
		if _, keep := c.Hidden[filepath.Base(f)]; !keep {
			os.Remove(f)
		}
	}
	for name, data := range c.Hidden {
		if err := providers.WritePrivateFile(filepath.Join(c.Dir, name), data); err != nil {
			return private{}, err
		}
	}
	if err := p.prepareDisks(ctx, c, !v.GetAttr("linked_clone").False()); err != nil {
		return private{}, err
	}
	files := ""
	if c.ConfigDisk != nil {
		if err := c.ConfigDisk.Write(c.CIData); err != nil {
			return private{}, err
		}
		files = c.ConfigDisk.Digest()
	} else {
		os.Remove(filepath.Join(c.Dir, ciDataFile))
	}
	os.Remove(filepath.Join(c.RunDir, qmpFile))
	var taps []*os.File
	defer func() {
		for _, f := range taps {
			f.Close() // QEMU holds its own copies; the taps live as long as it does
		}
	}()
	if c.Adapters > 0 {
		labNS := providers.LabNetns(p.lab.Name)
		labnet.Lock(p.lab.Name)
		err := labnet.EnsureNetns(labNS)
		labnet.Unlock(p.lab.Name)
		if err != nil {
			return private{}, err
		}
		for n := 0; n < c.Adapters; n++ {
			f, err := labnet.OpenTap(labNS, labnet.PortName(c.ID, n))
			if err != nil {
				return private{}, err
			}
			taps = append(taps, f)
		}
	}
	if f, err := p.openManagementTap(c); err != nil {
		return private{}, err
	} else if f != nil {
		taps = append(taps, f)
	}
	logPath := filepath.Join(c.Dir, logFile)
	logf, err := providers.OpenPrivateLog(logPath)
	if err != nil {
		return private{}, err
	}
	defer logf.Close()
	bin := p.binaryFor(c.Platform)
	args := argv(c)
	fmt.Fprintf(logf, "== %s: %s %s\n", time.Now().Format(time.RFC3339), bin, redact(strings.Join(args, " "), c.Secrets))
	// QEMU daemonizes once it is initialized: its parent's exit is the
	// end of the start, bounded by tool_timeout. The daemon is in a
	// session of its own, so a timeout's kill of the group misses one
	// that got that far; the pidfile finds it (only a process that was
	// not there before the start).
	before, _ := p.pidIn(c.RunDir)
	if _, err := labnet.Run(ctx, labnet.Tool{Name: bin, Args: args, Stdout: logf, Stderr: logf, ExtraFiles: taps, Timeout: p.timeout}); err != nil {
		if now, ok := p.pidIn(c.RunDir); ok && now != before {
			kill(now.Pid, now.Start)
		}
		return private{}, fmt.Errorf("%s failed to start (%v); the end of %s:\n%s", bin, err, logPath, logTail(logPath, 15))
	}
	b, err := os.ReadFile(filepath.Join(c.RunDir, pidFile))
	if err != nil {
		return private{}, fmt.Errorf("QEMU started but wrote no pidfile: %w", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	start, ok := procStart(pid)
	if !ok {
		return private{}, fmt.Errorf("QEMU (pid %d) exited right after starting; the end of %s:\n%s", pid, logPath, logTail(logPath, 15))
	}
	q, err := dialQMP(ctx, filepath.Join(c.RunDir, qmpFile), p.timeout)
	if err != nil {
		return private{Pid: pid, Start: start}, fmt.Errorf("%w; the end of %s:\n%s", err, logPath, logTail(logPath, 15))
	}
	q.Close()
	priv := private{Pid: pid, Start: start, Port: c.Port, Files: files}
	if n := num(v, "cpu_throttling"); n > 0 {
		if err := throttle(cgroupID(c.ID), pid, n); err != nil {
			return priv, err
		}
	}
	if prio := priorities[providers.String(v, "process_priority")]; prio != 0 {
		if err := renice(pid, prio); err != nil {
			return priv, err
		}
	}
	return priv, nil
}

// stop ends the VM: an ACPI power button press first when acpi_shutdown
// is set (waiting shutdown_timeout), then QMP quit, then SIGKILL, each
// only while the same process (pid and start time) still runs.
func (p *Provider) stop(ctx context.Context, id string, v cty.Value, priv private) error {
	defer unthrottle(cgroupID(id))
	if !alive(priv.Pid, priv.Start) {
		return nil
	}
	sock := filepath.Join(runDirOf(id), qmpFile)
	if v.GetAttr("acpi_shutdown").True() {
		if q, err := dialQMP(ctx, sock, p.timeout); err == nil {
			// A guest that is dead (shutdown, internal-error, panicked)
			// cannot act on the power button: do not wait for it.
			if st, serr := q.status(); serr == nil && resetStates[st] != "" {
				err = fmt.Errorf("status %s", st)
			} else {
				_, err = q.do("system_powerdown", nil)
			}
			q.Close()
			if err == nil && waitGone(ctx, priv.Pid, priv.Start, time.Duration(num(v, "shutdown_timeout"))*time.Second) {
				return nil
			}
		}
	}
	if q, err := dialQMP(ctx, sock, p.timeout); err == nil {
		q.quit()
		q.Close()
		if waitGone(ctx, priv.Pid, priv.Start, 10*time.Second) {
			return nil
		}
	}
	kill(priv.Pid, priv.Start)
	if !waitGone(ctx, priv.Pid, priv.Start, 10*time.Second) {
		return fmt.Errorf("QEMU (pid %d) did not exit after SIGKILL", priv.Pid)
	}
	return nil
}

// state is the value labform records: the planned one with what the
// provider computed.
func (p *Provider) state(addr, id string, planned cty.Value, priv private, running providers.RunState) cty.Value {
	m := planned.AsValueMap()
	m["pid"] = cty.NumberIntVal(int64(priv.Pid))
	if priv.Pid == 0 {
		m["pid"] = cty.NullVal(cty.Number)
	}
	if priv.Port > 0 {
		m["console_port"] = cty.NumberIntVal(int64(priv.Port))
	} else if !m["console_port"].IsKnown() {
		m["console_port"] = cty.NullVal(cty.Number)
	}
	m["qmp_socket"] = cty.StringVal(filepath.Join(runDirOf(id), qmpFile))
	m["mac_addresses"] = macList(macs(providers.String(planned, "mac_address"), id, num(planned, "adapters")))
	if running != "" {
		m["state"] = running.Value()
	}
	return cty.ObjectVal(m)
}

// decodePrivate reads what the provider recorded. Data that does not
// decode reads as nothing recorded (no pid): the process is then looked
// for through its pidfile, which is what a run after a crash relies on.
func decodePrivate(b []byte) private {
	var priv private
	if len(b) > 0 {
		json.Unmarshal(b, &priv)
	}
	return priv
}

func (priv private) bytes() []byte {
	b, _ := json.Marshal(priv)
	return b
}

// Create starts from no recorded process: run does the rest, as it does
// for a restart.
func (p *Provider) Create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.run(ctx, req.Addr, p.lab.IDFor(req.ID, req.Addr), req.Planned, private{}, req.Sensitive)
}

// workDir makes the VM's working directory, and the provider's, 0700:
// the log, the hidden options and the overlays are its owner's only.
func (p *Provider) workDir(c *vmConfig) error {
	if err := providers.PrivateDir(p.lab.WorkDir); err != nil {
		return err
	}
	return providers.PrivateDir(c.Dir)
}

// run brings a VM to its planned value from nothing running: the
// console port, the disks and, unless state = stopped, the process.
func (p *Provider) run(ctx context.Context, addr, id string, planned cty.Value, priv private, sensitive []cty.Path) (providers.ApplyResponse, error) {
	want := 0
	if cp := planned.GetAttr("console_port"); cp.IsKnown() && !cp.IsNull() {
		want = num(planned, "console_port")
	}
	port, err := p.allocPort(providers.String(planned, "console"), want)
	if err != nil {
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	c, err := p.config(addr, id, planned, port, sensitive)
	if err == nil {
		err = checkFiles(c)
	}
	if err != nil {
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	priv = private{Port: port}
	if providers.StateOf(planned) == providers.Stopped {
		if err := p.workDir(c); err != nil {
			return providers.ApplyResponse{}, err
		}
		if err := p.prepareDisks(ctx, c, !planned.GetAttr("linked_clone").False()); err != nil {
			return providers.ApplyResponse{}, err
		}
		return providers.ApplyResponse{State: p.state(addr, id, planned, priv, ""), Private: priv.bytes()}, nil
	}
	started, err := p.start(ctx, c, planned)
	if err != nil {
		if started.Pid != 0 {
			p.stop(context.Background(), id, planned, started)
		}
		if p.fromPidfile(id).Pid == 0 {
			os.RemoveAll(c.RunDir) // nothing runs: /run keeps nothing of it
		}
		return providers.ApplyResponse{}, err
	}
	return providers.ApplyResponse{State: p.state(addr, id, planned, started, ""), Private: started.bytes()}, nil
}

// Update makes a change the plan's cost allows: a restart stops the
// process and runs it again with the new arguments; anything else (run
// state, process priority, the management NIC's bridge) is done to the
// running QEMU, over QMP where QEMU does it, so that the VM keeps its pid
// and its guest keeps running.
func (p *Provider) Update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	id := p.lab.IDFor(req.ID, req.Addr)
	priv := p.process(id, decodePrivate(req.Private))
	if req.Cost == providers.Restart {
		// What the new process needs is checked before the old one stops:
		// a refused option or a missing image must leave the VM running.
		c, err := p.config(req.Addr, id, req.Planned, 0, req.Sensitive)
		if err == nil {
			err = checkFiles(c)
		}
		if err != nil {
			return providers.ApplyResponse{}, providers.NothingDone(err)
		}
		if err := p.stop(ctx, id, req.Prior, priv); err != nil {
			return providers.ApplyResponse{}, err
		}
		return p.run(ctx, req.Addr, id, req.Planned, priv, req.Sensitive)
	}
	to := providers.StateOf(req.Planned)
	running := alive(priv.Pid, priv.Start)
	switch {
	case to == providers.Stopped:
		if err := p.stop(ctx, id, req.Planned, priv); err != nil {
			return providers.ApplyResponse{}, err
		}
		priv.Pid, priv.Start = 0, 0
	case !running:
		return p.run(ctx, req.Addr, id, req.Planned, priv, req.Sensitive)
	default:
		q, err := dialQMP(ctx, filepath.Join(runDirOf(id), qmpFile), p.timeout)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		defer q.Close()
		cmd := "cont"
		if to == providers.Paused {
			cmd = "stop"
		}
		if _, err := q.do(cmd, nil); err != nil {
			return providers.ApplyResponse{}, err
		}
		if err := renice(priv.Pid, priorities[providers.String(req.Planned, "process_priority")]); err != nil {
			return providers.ApplyResponse{}, fmt.Errorf("process_priority: %w", err)
		}
		if err := p.reattachManagement(id, req.Planned); err != nil {
			return providers.ApplyResponse{}, err
		}
	}
	return providers.ApplyResponse{State: p.state(req.Addr, id, req.Planned, priv, ""), Private: priv.bytes()}, nil
}

// Delete stops the VM and removes its working directory (overlays, log,
// socket); base images are never touched.
func (p *Provider) Delete(ctx context.Context, req providers.ApplyRequest) error {
	id := p.lab.IDFor(req.ID, req.Addr)
	priv := p.process(id, decodePrivate(req.Private))
	if err := p.stop(ctx, id, req.Prior, priv); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.ports, priv.Port)
	p.mu.Unlock()
	for _, dir := range []string{p.dirOf(id), runDirOf(id)} {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	labnet.Lock(p.lab.Name)
	labnet.RemoveLabIfEmpty(p.lab.Name)
	labnet.Unlock(p.lab.Name)
	return nil
}

// fromPidfile finds the process of a VM whose start was interrupted
// before its result was recorded (a create, or a restart's new process).
func (p *Provider) fromPidfile(id string) private {
	priv, _ := p.pidIn(runDirOf(id))
	return priv
}

// pidIn reads the pidfile of a VM's run directory: the process, if it
// runs and its command line names that directory's QMP socket (a pid
// reused by another program does not).
func (p *Provider) pidIn(dir string) (private, bool) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return private{}, false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	start, ok := procStart(pid)
	if !ok || !cmdlineHas(pid, filepath.Join(dir, qmpFile)) {
		return private{}, false
	}
	return private{Pid: pid, Start: start}, true
}

// process is the VM's running process: the recorded one while it lives,
// else the one its pidfile names (a restart killed between starting the
// new process and recording it leaves that one running), keeping the
// recorded console port.
func (p *Provider) process(id string, priv private) private {
	if alive(priv.Pid, priv.Start) {
		return priv
	}
	if found := p.fromPidfile(id); found.Pid != 0 {
		found.Port = priv.Port
		return found
	}
	return priv
}

// Read finds the VM's process by pid and start time and asks QMP for its
// status. A VM that should run but whose process is gone (crashed,
// killed) is gone: the plan starts it again, and its links are applied
// again to its new taps.
func (p *Provider) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	id := p.lab.IDFor(req.ID, req.Addr)
	priv := p.process(id, decodePrivate(req.Private)) // the pidfile's process when nothing was recorded
	if len(req.Private) == 0 {
		if priv.Pid == 0 {
			if _, err := os.Stat(p.dirOf(id)); errors.Is(err, os.ErrNotExist) || providers.StateOf(req.Prior) != providers.Stopped {
				return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
			}
		}
		if cp := req.Prior.GetAttr("console_port"); cp.IsKnown() && !cp.IsNull() {
			priv.Port = num(req.Prior, "console_port")
		}
	}
	if _, err := os.Stat(p.dirOf(id)); errors.Is(err, os.ErrNotExist) && !alive(priv.Pid, priv.Start) {
		return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
	}
	if !alive(priv.Pid, priv.Start) {
		if providers.StateOf(req.Prior) == providers.Stopped {
			return providers.ReadResponse{State: req.Prior, Private: priv.bytes()}, nil
		}
		return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
	}
	status := "unresponsive"
	prior := req.Prior
	if q, err := dialQMP(ctx, filepath.Join(runDirOf(id), qmpFile), p.timeout); err == nil {
		if st, err := q.status(); err == nil {
			status = st
		}
		// The memory the process really has: after a restart interrupted
		// once its new process ran, state still holds the old value.
		if mib, err := q.memoryMiB(); err == nil && mib > 0 && prior.GetAttr("memory").IsKnown() && !prior.GetAttr("memory").IsNull() {
			m := prior.AsValueMap()
			m["memory"] = cty.NumberIntVal(int64(mib))
			prior = cty.ObjectVal(m)
		}
		q.Close()
	}
	state, restart := liveState(status)
	if restart == "" && priv.Files != "" && cidata.Wanted(req.Prior) {
		restart = filesChanged(req.Prior, p.lab.Dir, priv.Files)
	}
	return providers.ReadResponse{State: p.state(req.Addr, id, prior, priv, state), Private: priv.bytes(), Restart: restart}, nil
}

// resetStates are QMP run states that `cont` cannot leave (QEMU answers
// "Resetting the Virtual Machine is required"), or where the guest is
// dead: only a restart brings the VM back, and refresh says why.
var resetStates = map[string]string{
	"internal-error": "QMP status internal-error: the accelerator failed and QEMU refuses cont until a reset",
	"shutdown":       "QMP status shutdown: the guest powered off and QEMU kept the VM stopped; cont refuses it until a reset",
	"guest-panicked": "QMP status guest-panicked: the guest's kernel panicked",
}

// liveState maps a QMP status to the VM's state as the plan compares it,
// and, for a state only a restart leaves, the reason. A status that is
// none of labform's states (internal-error, shutdown, ...) is shown as
// QEMU says it, so that the plan shows a drift.
func liveState(status string) (state providers.RunState, restart string) {
	switch status {
	case "paused", "prelaunch", "suspended":
		return providers.Paused, ""
	}
	return providers.RunState(status), resetStates[status]
}

// filesChanged says why a running VM must restart when the files its
// config disk would hold now (the file blocks' sources read again) differ
// from the ones it started with; "" when they are the same.
func filesChanged(v cty.Value, labDir, started string) string {
	d, err := cidata.FromValue(v, labDir)
	if err != nil {
		return fmt.Sprintf("its file blocks cannot be read again (%v)", err)
	}
	if d.Digest() != started {
		return "a source of its file blocks changed since it started; its config disk is built again"
	}
	return ""
}
