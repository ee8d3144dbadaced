package container

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

var (
	_ providers.Describer = (*Provider)(nil)
	_ providers.Execer    = (*Provider)(nil)
)

// Describe gives a container's host names: its runc id and root, its
// namespace, its ports (eth<n> inside, lfp<id><n> in the lab namespace)
// and its log.
func (p *Provider) Describe(req providers.DescribeRequest) providers.Description {
	n := namesIn(req.Lab, req.ID, req.Addr, req.Private)
	root := RuntimeRoot(req.Lab.Key())
	if n.root != "" {
		root = n.root // an imported container keeps its own runc root
	}
	d := providers.Description{
		Image:       rootOf(req.Value),
		Netns:       filepath.Join(labnet.Dir, n.netns),
		RuntimeID:   n.id,
		RuntimeRoot: root,
		LabNetns:    providers.LabNetns(req.Lab.Name),
		Log:         filepath.Join(req.Lab.WorkDir, n.id, "container.log"),
	}
	if v := req.Value; v != cty.NilVal && !v.IsNull() && v.Type().HasAttribute("netns") {
		if ns := providers.String(v, "netns"); ns != "" {
			d.Netns = ns
		}
	}
	ports := 1
	if v := req.Value; v != cty.NilVal && !v.IsNull() {
		ports = int(num(v, "ports"))
	}
	for i := 0; i < ports; i++ {
		d.Ports = append(d.Ports, providers.PortNames{Index: i, Inside: fmt.Sprintf("eth%d", i), Host: n.labPort(i)})
		d.HostInterfaces = append(d.HostInterfaces, n.labPort(i))
	}
	d.Console = &providers.Console{Kind: "shell", Command: fmt.Sprintf("runc --root %s exec -t %s /bin/sh", d.RuntimeRoot, d.RuntimeID)}
	return d
}

// rootOf is what a container runs from: its image when it has one (an
// image attribute), else its rootfs.
func rootOf(v cty.Value) string {
	if v == cty.NilVal || v.IsNull() {
		return ""
	}
	for _, attr := range []string{"image", "rootfs"} {
		if v.Type().HasAttribute(attr) {
			if a := v.GetAttr(attr); a.IsKnown() && !a.IsNull() && a.Type() == cty.String && a.AsString() != "" {
				return a.AsString()
			}
		}
	}
	return ""
}

// Exec runs a command in a running container with runc exec, a terminal
// when asked. The default command is the container's bash when its root
// has one, else /bin/sh.
func (p *Provider) Exec(ctx context.Context, req providers.ExecRequest) (int, error) {
	if st := providers.StateOf(req.Value); st != providers.Running {
		return 1, fmt.Errorf("%s is %s: exec needs it running (apply starts it again: a node that stopped on its own shows as drift, and one the lab stops needs state = \"running\")", req.Addr, st)
	}
	n := namesIn(req.Lab, req.ID, req.Addr, req.Private)
	rt := p.rtOf(n)
	argv := req.Argv
	if len(argv) == 0 {
		argv = shell(req.Value)
	}
	g, err := p.newExecGuard(n)
	if err != nil {
		return 1, err
	}
	defer g.done()
	args := append([]string{"--root", rt.root, "exec"}, g.args()...)
	if req.TTY {
		args = append(args, "-t")
	}
	args = append(append(args, n.id), argv...)
	code, err := labnet.Attach(ctx, rt.path, args, req.Stdin, req.Stdout, req.Stderr)
	if ctx.Err() != nil {
		// runc was killed (a check's or ready gate's timeout, an
		// interrupt): its command would run on in the container. A
		// command that ended on its own keeps what it started in the
		// background (a daemon it launched).
		p.killIn(n, g)
	}
	return code, err
}

var _ providers.ConsoleOpener = (*Provider)(nil)

// OpenConsole starts the container's shell (as exec's default) with runc
// exec -t on a pseudo-terminal; closing it ends that shell, never the
// container.
func (p *Provider) OpenConsole(ctx context.Context, req providers.ConsoleRequest) (io.ReadWriteCloser, error) {
	if st := providers.StateOf(req.Value); st != providers.Running {
		return nil, fmt.Errorf("%s is %s: its console is a shell, which needs it running (apply starts it again: a node that stopped on its own shows as drift, and one the lab stops needs state = \"running\")", req.Addr, st)
	}
	n := namesIn(req.Lab, req.ID, req.Addr, req.Private)
	rt := p.rtOf(n)
	args := append([]string{"--root", rt.root, "exec", "-t", n.id}, shell(req.Value)...)
	return labnet.StartPTY(rt.path, args, req.Rows, req.Cols)
}

// shell is the container's shell: bash when its root has one, else
// /bin/sh.
func shell(v cty.Value) []string {
	if pid := num(v, "pid"); pid > 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/root/bin/bash", int(pid))); err == nil {
			return []string{"/bin/bash"}
		}
	}
	return []string{"/bin/sh"}
}
