package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"strings"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

func TestEncodeDecode(t *testing.T) {
	for name, v := range map[string]cty.Value{
		"nil":     cty.NilVal,
		"string":  cty.StringVal("x"),
		"null":    cty.NullVal(cty.Object(map[string]cty.Type{"a": cty.String})),
		"unknown": cty.ObjectVal(map[string]cty.Value{"pid": cty.UnknownVal(cty.Number), "name": cty.StringVal("a")}),
		"nested": cty.ObjectVal(map[string]cty.Value{
			"endpoints": cty.ListVal([]cty.Value{providers.EndpointVal("container.a", 0), providers.EndpointVal("container.b[1]", 2)}),
			"addresses": cty.MapVal(map[string]cty.Value{"eth0": cty.ListVal([]cty.Value{cty.StringVal("10.0.0.1/24")})}),
			"none":      cty.NullVal(cty.Map(cty.String)),
		}),
		"sensitive": cty.StringVal("secret").Mark("sensitive"),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := v.UnmarkDeep()
			if v == cty.NilVal {
				if got != cty.NilVal {
					t.Fatalf("got %#v, want NilVal", got)
				}
				return
			}
			if !got.RawEquals(want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
}

// probe is a provider that says what it was told: the lab it was
// configured with, and the IDs IDOf gives for the nodes a value names.
type probe struct {
	lab providers.Lab
}

func (p *probe) Name() string                          { return "probe" }
func (p *probe) Schemas() map[string]*providers.Schema { return nil }
func (p *probe) ConfigSchema() *providers.Block        { return &providers.Block{} }
func (p *probe) Configure(_ context.Context, req providers.ConfigureRequest) error {
	p.lab = req.Lab
	return nil
}

func (p *probe) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	if req.Addr == "x.gone" {
		return providers.ReadResponse{State: cty.NullVal(req.Prior.Type())}, nil
	}
	if req.Addr == "x.broken" {
		return providers.ReadResponse{}, errors.New("cannot read")
	}
	return providers.ReadResponse{State: cty.StringVal(p.lab.Name + " " + p.lab.IDOf(req.Prior.AsString())), Private: []byte(req.ID)}, nil
}

func (p *probe) Create(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if req.Planned.AsString() == "refuse" {
		return providers.ApplyResponse{}, fmt.Errorf("refused: %w", providers.ErrNothingDone)
	}
	return providers.ApplyResponse{State: cty.StringVal(p.lab.ID + " " + p.lab.IDOf(req.Planned.AsString())), Private: []byte("p")}, nil
}

func (p *probe) Update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.Create(ctx, req)
}
func (p *probe) Delete(context.Context, providers.ApplyRequest) error { return errors.New("busy") }

// serve starts a server of provs over a pipe and returns its client.
func serve(t *testing.T, provs ...providers.Provider) *rpc.Client {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	go NewServer(t.TempDir(), provs).Serve(sr, sw)
	c := rpc.NewClient(struct {
		io.Reader
		io.WriteCloser
	}{cr, cw})
	t.Cleanup(func() { c.Close() })
	return c
}

func enc(t *testing.T, v cty.Value) []byte {
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServer(t *testing.T) {
	p := &probe{}
	c := serve(t, p)
	lab := Lab{Name: "lab", Dir: "/lab", ID: "0123456789ab", Host: "edge1"}
	if err := c.Call("Agent.Configure", ConfigureArgs{Provider: "probe", Lab: lab}, &Empty{}); err != nil {
		t.Fatal(err)
	}
	hostID := HostLabID(lab.ID, lab.Host)
	if p.lab.ID != hostID || p.lab.Name != "lab-"+hostID[:8] || p.lab.Dir != "/lab" || hostID == HostLabID(lab.ID, "edge2") {
		t.Fatalf("the provider's lab is %+v; want ID %s, name lab-%s, the operator's directory, and another ID on another host", p.lab, hostID, hostID[:8])
	}
	if err := c.Call("Agent.Configure", ConfigureArgs{Provider: "nope", Lab: lab}, &Empty{}); err == nil || !strings.Contains(err.Error(), `no provider "nope"`) {
		t.Fatalf("configuring an unknown provider: %v", err)
	}

	tests := []struct {
		name    string
		args    ApplyArgs
		state   cty.Value
		err     string
		nothing bool
	}{
		{"create learns IDs", ApplyArgs{Provider: "probe", Op: "create", IDs: map[string]string{"container.a": "aaaa"}, Planned: enc(t, cty.StringVal("container.a"))},
			cty.StringVal(hostID + " aaaa"), "", false},
		{"update", ApplyArgs{Provider: "probe", Op: "update", Planned: enc(t, cty.StringVal("container.a"))}, cty.StringVal(hostID + " aaaa"), "", false},
		{"refused keeps ErrNothingDone", ApplyArgs{Provider: "probe", Op: "create", Planned: enc(t, cty.StringVal("refuse"))}, cty.NilVal, "refused: nothing was changed", true},
		{"delete error", ApplyArgs{Provider: "probe", Op: "delete"}, cty.NilVal, "busy", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res Result
			if err := c.Call("Agent.Apply", tt.args, &res); err != nil {
				t.Fatal(err)
			}
			err := res.Error()
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || errors.Is(err, providers.ErrNothingDone) != tt.nothing {
					t.Fatalf("error %v (nothing done: %v), want %q (nothing done: %v)", err, errors.Is(err, providers.ErrNothingDone), tt.err, tt.nothing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := Decode(res.State)
			if !got.RawEquals(tt.state) {
				t.Fatalf("state %#v, want %#v", got, tt.state)
			}
		})
	}

	// One round trip reads many: values, a gone object and an error, in
	// order.
	args := ReadManyArgs{Provider: "probe", IDs: map[string]string{"container.b": "bbbb"}, Reqs: []ReadReq{
		{Addr: "x.one", ID: "id1", Prior: enc(t, cty.StringVal("container.b"))},
		{Addr: "x.gone", Prior: enc(t, cty.StringVal("container.b"))},
		{Addr: "x.broken", Prior: enc(t, cty.StringVal("container.b"))},
	}}
	var reply ReadManyReply
	if err := c.Call("Agent.ReadMany", args, &reply); err != nil {
		t.Fatal(err)
	}
	if len(reply.Results) != 3 {
		t.Fatalf("%d results, want 3", len(reply.Results))
	}
	if got, _ := Decode(reply.Results[0].State); !got.RawEquals(cty.StringVal("lab-"+hostID[:8]+" bbbb")) || string(reply.Results[0].Private) != "id1" {
		t.Errorf("first read: %#v %q", got, reply.Results[0].Private)
	}
	if got, _ := Decode(reply.Results[1].State); !got.IsNull() {
		t.Errorf("a gone object reads %#v, want null", got)
	}
	if err := reply.Results[2].Error(); err == nil || err.Error() != "cannot read" {
		t.Errorf("a failed read: %v", err)
	}
}

// vmCarrier is a VM provider that records the cables it is asked to plug
// or pull.
type vmCarrier struct {
	probe
	name  string
	calls []string
}

func (p *vmCarrier) Name() string { return p.name }
func (p *vmCarrier) Schemas() map[string]*providers.Schema {
	return map[string]*providers.Schema{"vm": {}}
}
func (p *vmCarrier) SetCarrier(_ context.Context, req providers.CarrierRequest) error {
	p.calls = append(p.calls, fmt.Sprintf("%s %s %s port %d up %v", req.Lab.Name, req.Addr, req.ID, req.Port, req.Up))
	return nil
}

// TestServer_carrier: a link's half on a host plugs or pulls the cable in
// a VM there through the host's configured VM providers, with the ID the
// requests told, a provider not configured yet in the session configured
// for the lab first; other node types are left alone.
func TestServer_carrier(t *testing.T) {
	qemu, vbox := &vmCarrier{name: "qemu"}, &vmCarrier{name: "vbox"}
	s := NewServer(t.TempDir(), []providers.Provider{qemu, vbox, &probe{}})
	lab := Lab{Name: "lab", Dir: "/lab", ID: "0123456789ab", Host: "edge1"}
	if _, _, err := s.configure(ConfigureArgs{Provider: "qemu", Lab: lab}); err != nil {
		t.Fatal(err)
	}
	p, _, err := s.configure(ConfigureArgs{Provider: "probe", Lab: lab})
	if err != nil {
		t.Fatal(err)
	}
	s.learn(map[string]string{"vm.r1": "1111"})
	// The link provider on the host calls its lab's Carrier.
	carrier := p.(*probe).lab.Carrier
	if carrier == nil {
		t.Fatal("the host's lab has no Carrier")
	}
	for _, node := range []string{"vm.r1", "container.c"} {
		if err := carrier(context.Background(), node, 2, false); err != nil {
			t.Fatal(err)
		}
	}
	hostID := HostLabID(lab.ID, lab.Host)
	want := []string{"lab-" + hostID[:8] + " vm.r1 1111 port 2 up false"}
	if fmt.Sprint(qemu.calls) != fmt.Sprint(want) || fmt.Sprint(vbox.calls) != fmt.Sprint(want) {
		t.Fatalf("qemu was asked %v, vbox %v; want both %v (vbox configured with its defaults on the way)", qemu.calls, vbox.calls, want)
	}
}

// TestStashExec: a request stashed over RPC is taken once by its token,
// whatever its size (no command line bounds it), and a token naming
// anything else is refused.
func TestStashExec(t *testing.T) {
	dir := t.TempDir()
	s := NewServer(dir, nil)
	big := strings.Repeat("x", 300<<10)
	var token string
	if err := (&service{s}).StashExec(ExecArgs{Addr: "container.a", Argv: []string{"echo", big}}, &token); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeExec(token)
	if err != nil || got.Addr != "container.a" || len(got.Argv) != 2 || got.Argv[1] != big {
		t.Fatalf("took %v, %v", got.Addr, err)
	}
	if _, err := s.TakeExec(token); err == nil {
		t.Fatal("a request was taken twice")
	}
	for _, bad := range []string{"", "../x", ".hidden", "a/b"} {
		if _, err := s.TakeExec(bad); err == nil || !strings.Contains(err.Error(), "not a request token") {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}
