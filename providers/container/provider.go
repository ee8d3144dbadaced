package container

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container/image"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

// Configure takes the lab and the provider block (runtime = "runc").
func (p *Provider) Configure(_ context.Context, req providers.ConfigureRequest) error {
	p.lab = req.Lab
	path := "runc"
	if !req.Config.IsNull() {
		if r := req.Config.GetAttr("runtime"); !r.IsNull() {
			path = r.AsString()
		}
	}
	timeout, err := providers.ToolTimeout(req.Config)
	if err != nil {
		return err
	}
	p.rt = ociRuntime{path: path, root: RuntimeRoot(req.Lab.Key()), timeout: timeout}
	p.store = image.Store{Dir: image.DefaultStore}
	if c := req.Config; !c.IsNull() && c.Type().IsObjectType() && c.Type().HasAttribute("image_store") {
		if s := c.GetAttr("image_store"); !s.IsNull() && s.IsKnown() {
			p.store.Dir = s.AsString()
		}
	}
	p.labNetns = providers.LabNetns(req.Lab.Name)
	// What an interrupted destroy of the whole lab marked doomed goes
	// first, in one batch.
	return labnet.Reap(p.labNetns)
}

// bundle is the container's OCI bundle directory (config.json), under
// the lab's working directory so that the lab's destroy and a look at the
// lab find it, named by the runtime id that derives from the object ID.
func (p *Provider) bundle(n names) string { return filepath.Join(p.lab.WorkDir, n.id) }

// Read refreshes one container (ReadMany does it for many with one list).
func (p *Provider) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	resps, errs := p.ReadMany(ctx, []providers.ReadRequest{req})
	return resps[0], errs[0]
}

// ReadMany refreshes containers with one `runc list` and one dump of the
// lab namespace's interfaces. A container of these whose runtime state
// runc cannot load (runc was killed mid-create) is broken: it reads as
// absent, so the plan creates it again instead of failing for good, and
// once it is older than leftoverGrace it is removed with runc delete
// --force, by its exact id.
func (p *Provider) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, []error) {
	resps := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	list, err := p.rt.list(ctx)
	if err == nil {
		for i, req := range reqs {
			n := p.namesOf(req.ID, req.Addr, req.Private)
			if n.root != "" {
				continue // imported: not under this lab's root
			}
			id := n.id
			c := list[id]
			if c.Status != leftover {
				continue
			}
			delete(list, id)
			if time.Since(c.since) < leftoverGrace {
				continue
			}
			if derr := p.rt.removeLeftover(ctx, id); derr != nil {
				errs[i] = derr
			}
		}
	}
	if err == nil {
		var links map[string]bool
		links, err = labnet.Links(p.labNetns)
		if err == nil {
			foreign := map[string]map[string]containerState{}
			for i, req := range reqs {
				if errs[i] != nil {
					continue
				}
				l := list
				if n := p.namesOf(req.ID, req.Addr, req.Private); n.root != "" {
					// An imported container lives under its own root: one
					// list per root.
					if _, done := foreign[n.root]; !done {
						fl, ferr := p.rtOf(n).list(ctx)
						if ferr != nil && !os.IsNotExist(ferr) {
							errs[i] = ferr
							continue
						}
						foreign[n.root] = fl
					}
					l = foreign[n.root]
				}
				resps[i] = p.readOne(req, l, links)
			}
			return resps, errs
		}
	}
	for i := range errs {
		errs[i] = err
	}
	return resps, errs
}

// readOne builds one container's live value from runc's list and the lab
// namespace's links. A container whose pinned namespace is gone reads as
// gone even when runc still lists it: its ports and addresses went with
// the namespace, and only a new create gives them back.
func (p *Provider) readOne(req providers.ReadRequest, list map[string]containerState, links map[string]bool) providers.ReadResponse {
	n := p.namesOf(req.ID, req.Addr, req.Private)
	c, ok := list[n.id]
	if !ok || req.Prior.IsNull() {
		return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}
	}
	if _, err := os.Stat(filepath.Join(labnet.Dir, n.netns)); err != nil {
		return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}
	}
	m := req.Prior.AsValueMap()
	m["pid"] = cty.NumberIntVal(int64(c.Pid))
	m["netns"] = cty.StringVal(filepath.Join(labnet.Dir, n.netns))
	m["state"] = c.runState().Value()
	// Addresses and routes labform manages, read back from the namespace:
	// one changed by hand is drift.
	if want := addressMap(req.Prior); len(want) > 0 || len(strMap(req.Prior, "routes")) > 0 {
		ifaces := slices.Sorted(maps.Keys(want))
		dests := slices.Sorted(maps.Keys(strMap(req.Prior, "routes")))
		if live, routes, err := labnet.ReadAddresses(n.netns, ifaces, dests); err == nil {
			if !sameAddresses(want, live) {
				m["addresses"] = addressValue(live, ifaces)
			}
			if prior := strMap(req.Prior, "routes"); !sameRoutes(prior, routes) {
				m["routes"] = routesValue(routes)
			}
		}
	}
	// A port deleted by hand (a veth takes its peer with it) is drift that
	// apply repairs in place by adding that port back: it shows in the run
	// state, as VirtualBox's unplugged adapters do, and never as fewer
	// ports, which would replace the container.
	p.readManagement(p.lab.IDFor(req.ID, req.Addr), n, req.Prior, m)
	if missing := missingPorts(int(num(req.Prior, "ports")), n, links); len(missing) > 0 {
		m["state"] = cty.StringVal(m["state"].AsString() + " (" + strings.Join(missing, ", ") + " missing)")
	}
	return providers.ReadResponse{State: cty.ObjectVal(m), Private: req.Private}
}

// missingPorts names the ports (eth<n>) whose lab side is not among links.
func missingPorts(ports int, n names, links map[string]bool) []string {
	var missing []string
	for i := 0; i < ports; i++ {
		if !links[n.labPort(i)] {
			missing = append(missing, fmt.Sprintf("port eth%d", i))
		}
	}
	return missing
}

// Create pins the network namespace, makes the ports, sets addresses and
// routes, writes the bundle and starts the container.
func (p *Provider) Create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	v := req.Planned
	n := nameFor(p.lab.IDFor(req.ID, req.Addr))
	spec, errs := BuildSpec(v, SpecEnv{LabDir: p.lab.Dir, Netns: filepath.Join(labnet.Dir, n.netns)})
	if len(errs) > 0 {
		return providers.ApplyResponse{}, providers.NothingDone(errs[0])
	}
	p.addManagementMount(spec, v)
	p.unmountRoot(n) // an interrupted create's: a new container starts clean
	os.RemoveAll(p.bundle(n))
	v, err := p.finishSpec(ctx, n, v, spec)
	if err == nil {
		var blocks []fileBlock
		if blocks, err = filesOf(v, p.lab.Dir); err == nil {
			err = writeFiles(spec.Root.Path, blocks)
		}
	}
	if err == nil {
		err = checkCommand(spec)
	}
	if err != nil {
		p.unmountRoot(n)
		os.RemoveAll(p.bundle(n))
		return providers.ApplyResponse{}, providers.NothingDone(err)
	}
	// runc refuses a rootfs path that is a symlink: hand it the real one.
	if real, err := filepath.EvalSymlinks(spec.Root.Path); err == nil {
		spec.Root.Path = real
	}
	err = labnet.InLab(p.lab.Name, func() error {
		labnet.DeleteNetns(n.netns) // left by an interrupted create
		if err := labnet.CreateNetns(n.netns); err != nil {
			return err
		}
		return labnet.AddPorts(n.netns, p.labNetns, int(num(v, "ports")), n.labPort)
	})
	if err == nil {
		err = labnet.SyncAddresses(n.netns, addressMap(v), strMap(v, "routes"), nil)
	}
	if err == nil && hasManagement(v) {
		err = p.syncManagement(p.lab.IDFor(req.ID, req.Addr), n, v)
	}
	if err == nil {
		err = p.writeBundle(n, spec)
	}
	pid := 0
	if err == nil {
		pid, err = p.rt.start(ctx, n.id, p.bundle(n))
		if err != nil && strings.Contains(err.Error(), "already exists") {
			// Left by an interrupted create: remove it and start again.
			p.rt.run(ctx, "delete", "--force", n.id)
			pid, err = p.rt.start(ctx, n.id, p.bundle(n))
		}
	}
	if err != nil {
		p.cleanup(ctx, n)
		if hasManagement(v) {
			removeManagement(p.lab.IDFor(req.ID, req.Addr))
		}
		return providers.ApplyResponse{}, err
	}
	if st := providers.StateOf(v); st != providers.Running {
		if err := p.setState(ctx, n, st); err != nil {
			return providers.ApplyResponse{}, err
		}
		return p.current(ctx, n, v)
	}
	return p.value(n, v, pid), nil
}

// value is v with the container's pid and namespace.
func (p *Provider) value(n names, v cty.Value, pid int) providers.ApplyResponse {
	m := v.AsValueMap()
	m["pid"] = cty.NumberIntVal(int64(pid))
	m["netns"] = cty.StringVal(filepath.Join(labnet.Dir, n.netns))
	return providers.ApplyResponse{State: cty.ObjectVal(m), Private: n.private()}
}

// writeBundle writes config.json for the runtime, at create and at every
// update, so that the bundle always holds the planned spec: the next
// start (a restart, a start after stop) runs what the lab says now.
func (p *Provider) writeBundle(n names, spec interface{}) error {
	// The bundle holds the lab's values (env, hooks' env), sensitive ones
	// included: owner only.
	dir := p.bundle(n)
	if err := providers.PrivateDir(p.lab.WorkDir); err != nil {
		return err
	}
	if err := providers.PrivateDir(dir); err != nil {
		return err
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return providers.WritePrivateFile(filepath.Join(dir, "config.json"), b)
}

// current is v with the live pid, netns and state.
func (p *Provider) current(ctx context.Context, n names, v cty.Value) (providers.ApplyResponse, error) {
	st, err := p.rtOf(n).state(ctx, n.id)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	return p.value(n, v, st.Pid), nil
}

// Update changes a running container in place: cgroup limits with `runc
// update`, addresses and routes with netlink, the run state with pause,
// resume, kill and start.
func (p *Provider) Update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	n := p.namesOf(req.ID, req.Addr, req.Private)
	before, after := req.Prior, req.Planned
	spec, errs := BuildSpec(after, SpecEnv{LabDir: p.lab.Dir, Netns: filepath.Join(labnet.Dir, n.netns)})
	if len(errs) > 0 {
		return providers.ApplyResponse{}, providers.NothingDone(errs[0])
	}
	p.addManagementMount(spec, after) // from the next start on, when the lab gained a management network
	after, err := p.finishSpec(ctx, n, after, spec)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	if err := p.writeBundle(n, spec); err != nil {
		return providers.ApplyResponse{}, err
	}
	if !before.GetAttr("resources").RawEquals(after.GetAttr("resources")) && providers.StateOf(before) != providers.Stopped {
		res := *spec.Linux.Resources
		res.Devices = nil // the device list does not change in place
		b, _ := json.Marshal(res)
		f := filepath.Join(p.bundle(n), "resources.json")
		if err := providers.WritePrivateFile(f, b); err != nil {
			return providers.ApplyResponse{}, err
		}
		if _, err := p.rtOf(n).run(ctx, "update", "--resources", f, n.id); err != nil {
			return providers.ApplyResponse{}, err
		}
	}
	if err := p.updateFiles(ctx, n, req, after, spec.Root.Path); err != nil {
		return providers.ApplyResponse{}, err
	}
	// Ports deleted by hand come back (the refresh said so in the state);
	// the others, and the links joined to them, stay as they are.
	repaired := false
	if strings.Contains(str(before, "state"), "missing") {
		labnet.Lock(p.lab.Name)
		err := labnet.EnsureNetns(p.labNetns) // deleted by hand, it took every port along
		if err == nil {
			err = labnet.AddMissingPorts(n.netns, p.labNetns, int(num(after, "ports")), n.labPort)
		}
		labnet.Unlock(p.lab.Name)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		repaired = true
	}
	if repaired || !before.GetAttr("addresses").RawEquals(after.GetAttr("addresses")) || !before.GetAttr("routes").RawEquals(after.GetAttr("routes")) {
		if err := labnet.SyncAddresses(n.netns, addressMap(after), strMap(after, "routes"), strMap(before, "routes")); err != nil {
			return providers.ApplyResponse{}, err
		}
	}
	if hasManagement(before) || hasManagement(after) {
		// Idempotent: also re-attaches to a management bridge made again.
		if err := p.syncManagement(p.lab.IDFor(req.ID, req.Addr), n, after); err != nil {
			return providers.ApplyResponse{}, err
		}
	}
	if err := p.setState(ctx, n, providers.StateOf(after)); err != nil {
		return providers.ApplyResponse{}, err
	}
	return p.current(ctx, n, after)
}

// setState moves a container between running, paused and stopped.
func (p *Provider) setState(ctx context.Context, n names, to providers.RunState) error {
	rt := p.rtOf(n)
	st, err := rt.state(ctx, n.id)
	if err != nil {
		return err
	}
	from := st.runState()
	if from == to {
		return nil
	}
	switch to {
	case providers.Paused:
		if from == providers.Stopped {
			if err := p.restart(ctx, n); err != nil {
				return err
			}
		}
		_, err = rt.run(ctx, "pause", n.id)
	case providers.Running:
		if from == providers.Paused {
			_, err = rt.run(ctx, "resume", n.id)
		} else {
			err = p.restart(ctx, n)
		}
	case providers.Stopped:
		err = rt.stop(ctx, n.id, 10*time.Second)
	default:
		err = fmt.Errorf("state %q: a container is running, paused or stopped", to)
	}
	return err
}

// restart starts a stopped container again from its bundle, in the same
// pinned namespace, so its ports and addresses stay.
func (p *Provider) restart(ctx context.Context, n names) error {
	rt := p.rtOf(n)
	if _, err := rt.run(ctx, "delete", "--force", n.id); err != nil {
		return err
	}
	if err := p.remountRoot(n); err != nil {
		return err
	}
	_, err := rt.start(ctx, n.id, p.bundle(n))
	return err
}

// Delete stops the container and removes it, its namespace (and with it
// the ports), its bundle, and the lab namespace once nothing is left in it.
func (p *Provider) Delete(ctx context.Context, req providers.ApplyRequest) error {
	n := p.namesOf(req.ID, req.Addr, req.Private)
	if req.WholeLab {
		return p.teardown(ctx, n)
	}
	return p.cleanup(ctx, n)
}

// cleanup removes a container and everything of it before returning: its
// ports are deleted (in one batch), then its namespace.
func (p *Provider) cleanup(ctx context.Context, n names) error {
	return p.remove(ctx, n, func() error { return labnet.DeletePorts(p.labNetns, n.labPortPrefix) })
}

// teardown removes a container in a destroy of the whole lab: its ports
// are only marked doomed, and its namespace unpinned; the kernel deletes
// each veth pair with the namespace, in one batch with the others', and
// the last object to leave removes the lab namespace with what is doomed
// in it.
func (p *Provider) teardown(ctx context.Context, n names) error {
	return p.remove(ctx, n, func() error {
		ports := make([]string, 0, 1)
		if links, err := labnet.Links(p.labNetns); err == nil {
			for name := range links {
				if strings.HasPrefix(name, n.labPortPrefix) {
					ports = append(ports, name)
				}
			}
		}
		return labnet.Doom(p.labNetns, ports...)
	})
}

// remove stops and deletes the container, its bundle, its ports (the way
// ports says) and its namespace, and the lab namespace once nothing is
// left in it. Only the namespaces' removal takes the lab's lock.
func (p *Provider) remove(ctx context.Context, n names, ports func() error) error {
	var problems []string
	rt := p.rtOf(n)
	if _, err := os.Stat(filepath.Join(rt.root, n.id)); err == nil {
		// The pid runc wrote at the last start; killNow makes sure it is
		// still the container's. A paused container does not die until
		// runc thaws it: the short wait leaves it to runc.
		if b, err := os.ReadFile(filepath.Join(p.bundle(n), "pid")); err == nil {
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil {
				killNow(pid, filepath.Join(labnet.Dir, n.netns), 300*time.Millisecond)
			}
		}
		// The container is going away: no grace period (a sleep running
		// as pid 1 ignores SIGTERM). delete --force kills and removes it
		// with its cgroup, or the directory of a create that runc did
		// not finish.
		if _, err := rt.run(ctx, "delete", "--force", n.id); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if err := p.unmountRoot(n); err != nil {
		problems = append(problems, err.Error())
	} else if err := os.RemoveAll(p.bundle(n)); err != nil {
		problems = append(problems, err.Error())
	}
	if err := ports(); err != nil {
		problems = append(problems, err.Error())
	}
	if err := labnet.DeleteNetns(n.netns); err != nil {
		problems = append(problems, err.Error())
	}
	labnet.Lock(p.lab.Name)
	labnet.RemoveLabIfEmpty(p.lab.Name)
	os.Remove(p.rt.root) // only once it is empty: the last container went
	labnet.Unlock(p.lab.Name)
	if len(problems) > 0 {
		// The engine puts the address first; the runc id says which
		// host object is left.
		return fmt.Errorf("removing the container (runc id %s): %s", n.id, strings.Join(problems, "; "))
	}
	return nil
}

// addressMap is the addresses a value sets, by interface; nil when it
// sets none or they are not known yet, which Read takes as "labform
// manages no address here" and does not read back.
func addressMap(v cty.Value) map[string][]string {
	a := v.GetAttr("addresses")
	if a.IsNull() || !a.IsKnown() {
		return nil
	}
	out := map[string][]string{}
	for k, l := range a.AsValueMap() {
		for _, e := range l.AsValueSlice() {
			out[k] = append(out[k], e.AsString())
		}
	}
	return out
}

// sameAddresses compares addresses as sets per interface, as the kernel
// lists them (10.0.0.2/24) against how the lab wrote them.
func sameAddresses(want, live map[string][]string) bool {
	for ifname, cidrs := range want {
		got := map[string]bool{}
		for _, c := range live[ifname] {
			got[c] = true
		}
		if len(got) != len(cidrs) {
			return false
		}
		for _, c := range cidrs {
			ip, n, err := net.ParseCIDR(c)
			if err != nil {
				return false
			}
			n.IP = ip
			if !got[n.String()] {
				return false
			}
		}
	}
	return true
}

// sameRoutes compares routes by destination, the gateways as IPs: the
// kernel writes an address in its own canonical form (an IPv6 gateway
// shortened), which must not read as drift.
func sameRoutes(want, live map[string]string) bool {
	if len(want) != len(live) {
		return false
	}
	for dest, gw := range want {
		if ip := net.ParseIP(gw); ip == nil || live[dest] != ip.String() {
			return false
		}
	}
	return true
}

// addressValue is the live addresses as a value for the interfaces the
// lab sets: an interface left with none is an empty list, not missing,
// so that the plan shows what to add back.
func addressValue(live map[string][]string, ifaces []string) cty.Value {
	m := map[string]cty.Value{}
	for _, ifname := range ifaces {
		var l []cty.Value
		for _, c := range live[ifname] {
			l = append(l, cty.StringVal(c))
		}
		if len(l) == 0 {
			m[ifname] = cty.ListValEmpty(cty.String)
		} else {
			m[ifname] = cty.ListVal(l)
		}
	}
	if len(m) == 0 {
		return cty.MapValEmpty(cty.List(cty.String))
	}
	return cty.MapVal(m)
}

// routesValue is the live routes as a value. cty.MapVal cannot make an
// empty map (it takes the element type from the elements), hence
// MapValEmpty for none.
func routesValue(live map[string]string) cty.Value {
	if len(live) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	m := map[string]cty.Value{}
	for k, v := range live {
		m[k] = cty.StringVal(v)
	}
	return cty.MapVal(m)
}
