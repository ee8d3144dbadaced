package config_test

import (
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers/all"
)

const hostsSrc = `
host "edge1" {
  ssh           = "root@127.0.0.1:1"
  identity_file = "id"
  known_hosts   = "known_hosts"
  underlay      = "127.0.0.1"
}
host "edge2" {
  ssh           = "root@127.0.0.2"
  identity_file = "id"
  known_hosts   = "known_hosts"
  underlay      = "127.0.0.2"
  underlay_mtu  = 9000
}
container "here" {
  rootfs = "rootfs"
  ports  = 3
}
container "e1" {
  count  = 2
  host   = host.edge1
  rootfs = "rootfs"
  ports  = 2
}
container "e2" {
  host   = host.edge2
  rootfs = "rootfs"
}
vm "v" {
  host = host.edge2
}
link "local" {
  endpoints = [container.here.port[0], container.here.port[1]]
}
link "on_edge1" {
  endpoints = [container.e1[0].port[0], container.e1[1].port[0]]
}
link "across" {
  endpoints = [container.here.port[2], container.e2.port[0]]
}
link "segment" {
  endpoints = [container.e1[0].port[1], container.e1[1].port[1], vm.v.port[0]]
}
firewall_chain "fw" {
  target = container.e1[1]
  hooks  = ["INPUT"]
}
firewall_chain "lab" {
  target = lab
  hooks  = ["FORWARD"]
}
`

// TestHosts checks where each resource is served: a node on its host, a
// link on its ends' host or over VXLAN, a chain on its target's host.
func TestHosts(t *testing.T) {
	l := config.NewLab(t.TempDir(), all.Registry())
	diags := l.AddFile("main.lab.hcl", []byte(hostsSrc))
	diags = append(diags, l.Check()...)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if h := l.Hosts["edge2"]; h == nil || h.SSH != "root@127.0.0.2" || h.UnderlayMTU != 9000 || l.Hosts["edge1"].UnderlayMTU != 1500 {
		t.Fatalf("host blocks decoded as %+v %+v", l.Hosts["edge1"], l.Hosts["edge2"])
	}
	for _, tt := range []struct {
		res, provider, host string
	}{
		{"container.here", "container", ""},
		{"container.e1", "container@edge1", "edge1"},
		{"container.e2", "container@edge2", "edge2"},
		{"vm.v", "qemu@edge2", "edge2"},
		{"link.local", "link", ""},
		{"link.on_edge1", "link@edge1", "edge1"},
		{"link.across", "vxlan", ""},
		{"link.segment", "vxlan", ""},
		{"firewall_chain.fw", "netfilter@edge1", "edge1"},
		{"firewall_chain.lab", "netfilter", ""},
	} {
		t.Run(tt.res, func(t *testing.T) {
			ra, err := addr.ParseTarget(tt.res)
			if err != nil {
				t.Fatal(err)
			}
			r := l.Resources[ra.Resource]
			if r == nil {
				t.Fatalf("no resource %s", tt.res)
			}
			if r.Provider != tt.provider || r.Host != tt.host {
				t.Fatalf("provider %q host %q, want %q %q", r.Provider, r.Host, tt.provider, tt.host)
			}
			if _, ok := l.Registry.Provider(r.Provider); !ok {
				t.Fatalf("provider %q is not registered", r.Provider)
			}
		})
	}
	// A second check (validate then plan) does not place anything twice.
	if diags := l.Check(); diags.HasErrors() {
		t.Fatal(diags)
	}
	if p := l.Resources[addr.Resource{Type: "container", Name: "e1"}].Provider; p != "container@edge1" {
		t.Fatalf("after a second check container.e1 has provider %q", p)
	}
	// -target=host.edge1 selects its nodes, what follows them, and the
	// links that reach it.
	rs, ok := l.HostTargets("edge1")
	got := map[string]bool{}
	for _, r := range rs {
		got[r.String()] = true
	}
	want := []string{"container.e1", "link.on_edge1", "link.segment", "firewall_chain.fw"}
	if !ok || len(got) != len(want) {
		t.Fatalf("host.edge1 selects %v, want %v", rs, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Fatalf("host.edge1 selects %v, want %v", rs, want)
		}
	}
	if _, ok := l.HostTargets("nope"); ok {
		t.Fatal("an undeclared host selects something")
	}
}

// TestHosts_readyOnARemoteNode: a ready gate's tcp and exec run on the
// node's host; its console condition, which reads a log left on the host,
// is refused at the condition.
func TestHosts_readyOnARemoteNode(t *testing.T) {
	for _, c := range []struct {
		cond string
		want bool // refused
	}{
		{`exec = ["true"]`, false},
		{`tcp = "127.0.0.1:22"`, false},
		{`console = "login:"`, true},
	} {
		src := `
host "edge1" {
  ssh           = "root@127.0.0.1:1"
  identity_file = "id"
  known_hosts   = "known_hosts"
  underlay      = "127.0.0.1"
}
container "e1" {
  host   = host.edge1
  rootfs = "rootfs"
  ready {
    ` + c.cond + `
  }
}
`
		l := config.NewLab(t.TempDir(), all.Registry())
		diags := l.AddFile("main.lab.hcl", []byte(src))
		diags = append(diags, l.Check()...)
		var found bool
		for _, d := range diags {
			if d.Summary == "Console ready condition on a node of another host" && d.Subject != nil && d.Subject.Start.Line == 12 {
				found = true
			}
		}
		if found != c.want {
			t.Errorf("%s: refused %v, want %v: %v", c.cond, found, c.want, diags)
		}
	}
}
