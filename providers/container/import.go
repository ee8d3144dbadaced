package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/zclconf/go-cty/cty"
)

var (
	_ providers.Importer = (*Provider)(nil)
	_ providers.Adopter  = (*Provider)(nil)
)

// importPrivate is the private data of an imported container: the
// runtime root and id it was made under, which it keeps.
type importPrivate struct {
	Root string `json:"runtime_root"`
	ID   string `json:"runtime_id"`
}

// namesOf are the names of the container of an object: derived from its
// ID, except the runtime root and id of an imported one (its private data
// says them). Its pinned namespace and ports are named after the ID like
// any container's.
func (p *Provider) namesOf(id, address string, priv []byte) names {
	return namesIn(p.lab, id, address, priv)
}

// namesIn is namesOf for a lab the provider need not be configured with
// (Describe runs no tool and needs no Configure).
func namesIn(lab providers.Lab, id, address string, priv []byte) names {
	n := nameFor(lab.IDFor(id, address))
	var ip importPrivate
	if len(priv) > 0 && priv[0] == '{' && json.Unmarshal(priv, &ip) == nil && ip.Root != "" && ip.ID != "" {
		n.id, n.root = ip.ID, ip.Root
	}
	return n
}

// private is what a write records: the runtime id, or an imported
// container's root and id.
func (n names) private() []byte {
	if n.root == "" {
		return []byte(n.id)
	}
	b, _ := json.Marshal(importPrivate{Root: n.root, ID: n.id})
	return b
}

// rtOf is the runtime that holds the container.
func (p *Provider) rtOf(n names) ociRuntime {
	rt := p.rt
	if n.root != "" {
		rt.root = n.root
	}
	return rt
}

// ImportIDForm is the form of a container's import ID.
func (p *Provider) ImportIDForm(string) string {
	return "`RUNTIME_ROOT:ID`, such as `/run/runc:web`: the runtime's --root and the container's id (`runc --root ROOT list`). The container must run or be paused, in a network namespace of its own. labform reads its rootfs, command, cwd, env, hostname, capabilities and read-only root from its bundle's config.json, and takes the rest as configured; when the import is applied it pins the container's network namespace under labform's name and adds the configured ports. The container keeps its runtime root and id; a restart (state stopped, then running) starts it from a bundle labform writes"
}

// Import adopts a container made outside labform with runc. It reads the
// container's state and its bundle's config.json, and returns the
// configuration's value with what differs from what the configuration
// would run in its place (so a different rootfs or hostname plans a
// replacement, as for any container), the live pid and run state, and no
// ports or addresses of labform's yet (the plan adds them in place).
func (p *Provider) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	i := strings.LastIndex(req.ImportID, ":")
	if i <= 0 || i == len(req.ImportID)-1 {
		return providers.ImportResponse{}, fmt.Errorf("a container's ID is RUNTIME_ROOT:ID, such as /run/runc:web")
	}
	root, id := filepath.Clean(req.ImportID[:i]), req.ImportID[i+1:]
	if root == filepath.Clean(p.rt.root) {
		return providers.ImportResponse{}, fmt.Errorf("%s is this lab's own runtime root: its containers are labform's already", root)
	}
	n := nameFor(p.lab.IDFor(req.ID, req.Addr))
	n.id, n.root = id, root
	st, err := p.rtOf(n).state(ctx, id)
	if err != nil {
		return providers.ImportResponse{}, err
	}
	if !st.runState().Live() {
		return providers.ImportResponse{}, fmt.Errorf("the container %s is %s; labform adopts a running or paused container (its network namespace is its process's)", id, st.Status)
	}
	own, err1 := os.Stat("/proc/self/ns/net")
	theirs, err2 := os.Stat(fmt.Sprintf("/proc/%d/ns/net", st.Pid))
	if err1 != nil || err2 != nil {
		return providers.ImportResponse{}, fmt.Errorf("reading the network namespaces of labform and of pid %d: %v %v", st.Pid, err1, err2)
	}
	if os.SameFile(own, theirs) {
		return providers.ImportResponse{}, fmt.Errorf("the container %s shares the host's network namespace; labform adds ports and addresses to a container's own namespace, so it does not adopt this one", id)
	}
	b, err := os.ReadFile(filepath.Join(st.Bundle, "config.json"))
	if err != nil {
		return providers.ImportResponse{}, fmt.Errorf("reading the container's spec: %w", err)
	}
	var live specs.Spec
	if err := json.Unmarshal(b, &live); err != nil {
		return providers.ImportResponse{}, fmt.Errorf("%s/config.json: %w", st.Bundle, err)
	}
	want, errs := BuildSpec(req.Planned, SpecEnv{LabDir: p.lab.Dir, Netns: filepath.Join(labnet.Dir, n.netns)})
	if len(errs) > 0 {
		return providers.ImportResponse{}, errs[0]
	}
	m := req.Planned.AsValueMap()
	for name, v := range specDifferences(&live, want, st.Bundle) {
		m[name] = v
	}
	m["pid"] = cty.NumberIntVal(int64(st.Pid))
	m["netns"] = cty.StringVal(filepath.Join(labnet.Dir, n.netns))
	state := st.Status
	if missing := missingPorts(int(num(req.Planned, "ports")), n, nil); len(missing) > 0 {
		state += " (" + strings.Join(missing, ", ") + " missing)"
	}
	m["state"] = cty.StringVal(state)
	m["addresses"] = cty.NullVal(m["addresses"].Type())
	m["routes"] = cty.NullVal(m["routes"].Type())
	// What labform computes for its own containers (an image's digest,
	// its files' digests, a management address) is not there yet on one
	// made by hand: null, so the plan shows what adopting it adds.
	for name, v := range m {
		if !v.IsWhollyKnown() {
			m[name] = cty.NullVal(v.Type())
		}
	}
	return providers.ImportResponse{State: cty.ObjectVal(m), Private: n.private()}, nil
}

// specDifferences are the attributes whose value in the running
// container's spec differs from the spec the configuration builds, with
// the running container's values.
func specDifferences(live, want *specs.Spec, bundle string) map[string]cty.Value {
	out := map[string]cty.Value{}
	if live.Root != nil && want.Root != nil {
		lp := live.Root.Path
		if !filepath.IsAbs(lp) {
			lp = filepath.Join(bundle, lp)
		}
		if realPath(lp) != realPath(want.Root.Path) {
			out["rootfs"] = cty.StringVal(lp)
		}
		if live.Root.Readonly != want.Root.Readonly {
			out["readonly_rootfs"] = cty.BoolVal(live.Root.Readonly)
		}
	}
	if live.Hostname != want.Hostname {
		out["hostname"] = cty.StringVal(live.Hostname)
	}
	if live.Process == nil || want.Process == nil {
		return out
	}
	if !slices.Equal(live.Process.Args, want.Process.Args) {
		out["command"] = strListVal(live.Process.Args)
	}
	if live.Process.Cwd != want.Process.Cwd {
		out["cwd"] = cty.StringVal(live.Process.Cwd)
	}
	if !sameSet(live.Process.Env, want.Process.Env) {
		env := map[string]cty.Value{}
		for _, kv := range live.Process.Env {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = cty.StringVal(v)
		}
		out["env"] = cty.NullVal(cty.Map(cty.String))
		if len(env) > 0 {
			out["env"] = cty.MapVal(env)
		}
	}
	var liveCaps, wantCaps []string
	if live.Process.Capabilities != nil {
		liveCaps = live.Process.Capabilities.Bounding
	}
	if want.Process.Capabilities != nil {
		wantCaps = want.Process.Capabilities.Bounding
	}
	if !sameSet(liveCaps, wantCaps) {
		out["capabilities"] = strListVal(liveCaps)
	}
	return out
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func strListVal(l []string) cty.Value {
	if len(l) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(l))
	for i, s := range l {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

// Adopt pins the imported container's network namespace under labform's
// name, so that its ports, addresses and the firewall chains aimed at it
// live where labform looks for them. The ports themselves are added by
// the update the plan makes next.
func (p *Provider) Adopt(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	n := p.namesOf(req.ID, req.Addr, req.Private)
	st, err := p.rtOf(n).state(ctx, n.id)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	labnet.Lock(p.lab.Name)
	defer labnet.Unlock(p.lab.Name)
	if _, err := os.Stat(filepath.Join(labnet.Dir, n.netns)); err == nil {
		return providers.ApplyResponse{State: req.Planned, Private: req.Private}, nil // pinned by an earlier try
	}
	if err := labnet.PinNetns(n.netns, fmt.Sprintf("/proc/%d/ns/net", st.Pid)); err != nil {
		return providers.ApplyResponse{}, err
	}
	return providers.ApplyResponse{State: req.Planned, Private: req.Private}, nil
}
