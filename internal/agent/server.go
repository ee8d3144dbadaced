package agent

import (
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
)

// Server is the agent's side: the providers of this host.
type Server struct {
	dir   string // the agent's directory on this host, per simulated host
	provs map[string]providers.Provider

	mu  sync.Mutex
	ids map[string]string // address -> object ID, as the requests told
	// labs are the labs the providers were configured with, by provider.
	labs map[string]providers.Lab
	// lab is the operator's lab as the last Configure gave it.
	lab *Lab
}

// NewServer serves provs; dir holds what the providers keep on this host.
func NewServer(dir string, provs []providers.Provider) *Server {
	s := &Server{dir: dir, provs: map[string]providers.Provider{}, ids: map[string]string{}, labs: map[string]providers.Lab{}}
	for _, p := range provs {
		s.provs[p.Name()] = p
	}
	return s
}

// Serve answers requests on r and w (the SSH session's stdio) until the
// other side closes them.
func (s *Server) Serve(r io.Reader, w io.WriteCloser) error {
	srv := rpc.NewServer()
	if err := srv.RegisterName(Service, &service{s}); err != nil {
		return err
	}
	srv.ServeConn(struct {
		io.Reader
		io.WriteCloser
	}{r, w})
	return nil
}

// HostLabID is the lab's ID on a host: the lab's salted with the host's
// name. What the providers there name after the lab (its namespace, the
// runc root, the management bridge) then differs from host to host, even
// when simulated hosts share one kernel and one filesystem. Object IDs
// are the operator's: the engine sends them with every request.
func HostLabID(labID, host string) string {
	h := sha256.Sum256([]byte(labID + "\x00host\x00" + host))
	return hex.EncodeToString(h[:])[:len(labID)]
}

func (s *Server) provider(name string) (providers.Provider, error) {
	p, ok := s.provs[name]
	if !ok {
		return nil, fmt.Errorf("the agent has no provider %q", name)
	}
	return p, nil
}

func (s *Server) learn(ids map[string]string) {
	s.mu.Lock()
	for a, id := range ids {
		s.ids[a] = id
	}
	s.mu.Unlock()
}

func (s *Server) idOf(addr string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[addr]
}

// service holds the RPC methods.
type service struct{ s *Server }

// Ping answers: the agent runs, and keeps its files in Dir.
func (v *service) Ping(_ Empty, reply *PingReply) error {
	dir, err := filepath.Abs(v.s.dir)
	reply.Dir = dir
	return err
}

// StashExec keeps a command to run in a node until `labform agent exec`
// takes it, in a file only root reads: the request (the node's value and
// the provider's settings) stays off command lines, which other users of
// the host see and the kernel bounds to 128 KiB.
func (v *service) StashExec(a ExecArgs, token *string) error {
	dir := filepath.Join(v.s.dir, "exec")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "req-*")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := gob.NewEncoder(f).Encode(a); err != nil {
		os.Remove(f.Name())
		return err
	}
	*token = filepath.Base(f.Name())
	return nil
}

// Configure configures one provider for the lab.
func (v *service) Configure(a ConfigureArgs, _ *Empty) error {
	_, _, err := v.s.configure(a)
	return err
}

// configure configures one provider for the lab and returns it with the
// lab as this host sees it.
func (s *Server) configure(a ConfigureArgs) (providers.Provider, providers.Lab, error) {
	p, err := s.provider(a.Provider)
	if err != nil {
		return nil, providers.Lab{}, err
	}
	cfg, err := Decode(a.Config)
	if err != nil {
		return nil, providers.Lab{}, err
	}
	lab := HostLab(a.Lab, filepath.Join(s.dir, "labs"), a.Provider)
	lab.IDOf, lab.Carrier = s.idOf, s.carrier
	if err := p.Configure(context.Background(), providers.ConfigureRequest{Lab: lab, Config: cfg}); err != nil {
		return p, lab, err
	}
	s.mu.Lock()
	s.labs[a.Provider] = lab
	s.lab = &a.Lab
	s.mu.Unlock()
	return p, lab, nil
}

// carrier is the Lab.Carrier of this host: a link's half plugs or pulls
// the cable inside a node of this host (a QEMU VM: QMP set_link) through
// the configured providers that can. Only the node's address and ID are
// known here, which is all their CarrierSetter needs to find the node. A
// provider not configured in this session (no refresh came first: a saved
// plan, -refresh=false) is configured for the lab with its defaults.
func (s *Server) carrier(ctx context.Context, node string, port int, up bool) error {
	typ, _, _ := strings.Cut(node, ".")
	for _, name := range slices.Sorted(maps.Keys(s.provs)) {
		cs, ok := s.provs[name].(providers.CarrierSetter)
		if !ok {
			continue
		}
		if _, ok := s.provs[name].Schemas()[typ]; !ok {
			continue
		}
		s.mu.Lock()
		lab, configured := s.labs[name]
		last := s.lab
		s.mu.Unlock()
		if !configured {
			if last == nil {
				continue
			}
			var err error
			if _, lab, err = s.configure(ConfigureArgs{Provider: name, Lab: *last}); err != nil {
				return fmt.Errorf("configuring the %s provider to reach %s: %w", name, node, err)
			}
		}
		if err := cs.SetCarrier(ctx, providers.CarrierRequest{DescribeRequest: providers.DescribeRequest{Lab: lab, Type: typ, Addr: node, ID: s.idOf(node)},
			Port: port, Up: up}); err != nil {
			return err
		}
	}
	return nil
}

// HostLab is the lab as the providers on its host see it. Its name carries
// its ID on the host: its lab namespace is lf-<name>-<id>, never the
// operator's or another host's, even when simulated hosts share one
// kernel. labsDir is where the agent keeps labs ("" when only names are
// wanted).
func HostLab(l Lab, labsDir, provider string) providers.Lab {
	id := HostLabID(l.ID, l.Host)
	lab := providers.Lab{Name: l.Name + "-" + id[:8], Dir: l.Dir, ID: id}
	if labsDir != "" {
		lab.WorkDir = filepath.Join(labsDir, id, provider)
	}
	return lab
}

func decodeRead(r ReadReq) (providers.ReadRequest, error) {
	prior, err := Decode(r.Prior)
	return providers.ReadRequest{Type: r.Type, Addr: r.Addr, ID: r.ID, Prior: prior, Private: r.Private}, err
}

func encodeRead(resp providers.ReadResponse, err error) Result {
	var r Result
	if err == nil {
		r.State, err = Encode(resp.State)
		r.Private, r.Restart = resp.Private, resp.Restart
	}
	resultErr(&r, err)
	return r
}

// ReadMany reads objects of one provider: in one batch where it can.
func (v *service) ReadMany(a ReadManyArgs, reply *ReadManyReply) error {
	p, err := v.s.provider(a.Provider)
	if err != nil {
		return err
	}
	v.s.learn(a.IDs)
	reqs := make([]providers.ReadRequest, len(a.Reqs))
	reply.Results = make([]Result, len(a.Reqs))
	for i, r := range a.Reqs {
		if reqs[i], err = decodeRead(r); err != nil {
			return err
		}
	}
	ctx := context.Background()
	if br, ok := p.(providers.BatchReader); ok {
		resps, errs := br.ReadMany(ctx, reqs)
		for i := range reqs {
			reply.Results[i] = encodeRead(resps[i], errs[i])
		}
		return nil
	}
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			reply.Results[i] = encodeRead(p.Read(ctx, reqs[i]))
		}(i)
	}
	wg.Wait()
	return nil
}

// Apply creates, updates or deletes one object.
func (v *service) Apply(a ApplyArgs, reply *Result) error {
	p, err := v.s.provider(a.Provider)
	if err != nil {
		return err
	}
	v.s.learn(a.IDs)
	req := providers.ApplyRequest{Type: a.Type, Addr: a.Addr, ID: a.ID, Private: a.Private, Cost: a.Cost, WholeLab: a.WholeLab}
	if req.Prior, err = Decode(a.Prior); err != nil {
		return err
	}
	if req.Planned, err = Decode(a.Planned); err != nil {
		return err
	}
	ctx := context.Background()
	var resp providers.ApplyResponse
	switch a.Op {
	case "create":
		resp, err = p.Create(ctx, req)
	case "update":
		resp, err = p.Update(ctx, req)
	case "delete":
		err = p.Delete(ctx, req)
	default:
		return fmt.Errorf("unknown operation %q", a.Op)
	}
	if err == nil && a.Op != "delete" {
		reply.State, err = Encode(resp.State)
		reply.Private = resp.Private
	}
	resultErr(reply, err)
	return nil
}

// CheckHost runs a provider's checks of this host for one value.
func (v *service) CheckHost(a CheckArgs, reply *CheckReply) error {
	p, err := v.s.provider(a.Provider)
	if err != nil {
		return err
	}
	hc, ok := p.(providers.HostChecker)
	if !ok {
		return nil
	}
	val, err := Decode(a.Value)
	if err != nil {
		return err
	}
	for _, e := range hc.CheckHost(a.Type, val) {
		reply.Errors = append(reply.Errors, AttrError{Path: attrPath(e.Path), Summary: e.Summary, Detail: e.Detail})
	}
	return nil
}

// Capabilities reports what this host has, with the tools of the named
// providers (all when none is named).
func (v *service) Capabilities(a CapabilitiesArgs, reply *Capabilities) error {
	want := map[string]bool{}
	for _, p := range a.Providers {
		want[p] = true
	}
	if a.LabDir != "" {
		if st, err := os.Stat(a.LabDir); err != nil || !st.IsDir() {
			reply.NoLabDir = true
		}
	}
	if len(want) == 0 || want["link"] {
		if err := labnet.ProbeNetem(); err != nil {
			reply.NoNetem = err.Error()
		}
	}
	reply.Hostname, _ = os.Hostname()
	reply.Pid = os.Getpid()
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		reply.KVM = true
	}
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(v.s.provs)) {
		p := v.s.provs[name]
		if len(want) > 0 && !want[name] {
			continue
		}
		if tc, ok := p.(providers.ToolChecker); ok {
			for _, t := range tc.Tools() {
				if _, err := exec.LookPath(t); err != nil && !seen[t] {
					seen[t] = true
					reply.Missing = append(reply.Missing, t)
				}
			}
		}
	}
	sort.Strings(reply.Missing)
	return nil
}

// Probe runs a check's or ready gate's probe from a node's namespace on
// this host.
func (v *service) Probe(a ProbeArgs, reply *ProbeReply) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.Timeout+time.Duration(a.Count)*time.Second+5*time.Second)
	defer cancel()
	var p labnet.LocalProber
	switch a.Kind {
	case "ping":
		ip := net.ParseIP(a.To)
		if ip == nil {
			return fmt.Errorf("ping: %q is not an IP address", a.To)
		}
		var err error
		reply.Sent, reply.Received, reply.Note, err = p.PingFrom(ctx, a.Netns, ip, a.Count, a.Timeout)
		return err
	case "tcp":
		var err error
		reply.Outcome, err = p.DialFrom(ctx, a.Netns, a.To, a.Port, a.Timeout)
		return err
	}
	return fmt.Errorf("unknown probe %q", a.Kind)
}
