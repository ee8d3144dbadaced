package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container"
	"github.com/labform/labform/providers/mgmtnet"
	"github.com/zclconf/go-cty/cty"
)

// mgmtLab evaluates src (lab files' content) with the container and
// management providers.
func mgmtLab(t *testing.T, src string) (*config.Desired, *Planner) {
	t.Helper()
	reg := providers.NewRegistry()
	reg.Register(container.New())
	reg.Register(mgmtnet.New())
	l := config.NewLab("/labs/m", reg)
	diags := l.AddFile("main.lab.hcl", []byte(src))
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	if diags = append(diags, more...); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p := &Planner{Registry: reg, Lab: l}
	p.labOnce.Do(func() { p.labIDv = "0123456789abcdef" })
	return d, p
}

func mgmtSrc(subnet, nodes string) string {
	return fmt.Sprintf(`lab {
  management {
    subnet = %q
  }
}
%s`, subnet, nodes)
}

const ctr = `  rootfs  = "rootfs"
  command = ["sleep", "infinity"]
`

// TestAssignManagement: which node gets which address, and that recorded
// addresses stay put.
func TestAssignManagement(t *testing.T) {
	for name, tc := range map[string]struct {
		subnet string
		nodes  string
		prior  map[string]string // address -> recorded mgmt_address
		gone   []string          // recorded mgmt_address of nodes no longer configured
		want   map[string]string // address -> mgmt_address after
		err    string            // a diagnostic's summary
		detail string            // and words of its detail
		line   int               // and its line, when not the subnet's (3)
	}{
		"a new lab is numbered in address order": {
			subnet: "10.9.0.0/24",
			nodes:  "container \"c\" {\n  count = 3\n" + ctr + "}\ncontainer \"a\" {\n" + ctr + "}\n",
			want:   map[string]string{"container.a": "10.9.0.2", "container.c[0]": "10.9.0.3", "container.c[1]": "10.9.0.4", "container.c[2]": "10.9.0.5"},
		},
		"recorded addresses stay, a new node takes the lowest free one": {
			subnet: "10.9.0.0/24",
			nodes:  "container \"c\" {\n  count = 3\n" + ctr + "}\ncontainer \"a\" {\n" + ctr + "}\n",
			prior:  map[string]string{"container.c[0]": "10.9.0.7", "container.c[1]": "10.9.0.2", "container.c[2]": "10.9.0.3"},
			want:   map[string]string{"container.a": "10.9.0.4", "container.c[0]": "10.9.0.7", "container.c[1]": "10.9.0.2", "container.c[2]": "10.9.0.3"},
		},
		"a removed node's address is not reused while lower ones are free": {
			subnet: "10.9.0.0/24",
			nodes:  "container \"c\" {\n  count = 1\n" + ctr + "}\n",
			prior:  map[string]string{"container.c[0]": "10.9.0.3"},
			want:   map[string]string{"container.c[0]": "10.9.0.3"},
		},
		"an address being freed by this plan is not handed out again": {
			subnet: "10.9.0.0/24",
			nodes:  "container \"c\" {\n" + ctr + "}\ncontainer \"a\" {\n" + ctr + "}\n",
			prior:  map[string]string{"container.c": "10.9.0.3"},
			gone:   []string{"10.9.0.2"},
			want:   map[string]string{"container.a": "10.9.0.4", "container.c": "10.9.0.3"},
		},
		"a written address wins over a recorded one": {
			subnet: "10.9.0.0/24",
			nodes:  "container \"c\" {\n" + ctr + "}\ncontainer \"f\" {\n" + ctr + "  mgmt_address = \"10.9.0.2\"\n}\n",
			prior:  map[string]string{"container.c": "10.9.0.2"},
			want:   map[string]string{"container.c": "10.9.0.3", "container.f": "10.9.0.2"},
		},
		"a recorded address outside a new subnet moves": {
			subnet: "10.8.0.0/24",
			nodes:  "container \"c\" {\n" + ctr + "}\n",
			prior:  map[string]string{"container.c": "10.9.0.9"},
			want:   map[string]string{"container.c": "10.8.0.2"},
		},
		"the host's address is never recorded for a node": {
			subnet: "10.9.0.0/24",
			nodes:  "container \"c\" {\n" + ctr + "}\n",
			prior:  map[string]string{"container.c": "10.9.0.1"},
			want:   map[string]string{"container.c": "10.9.0.2"},
		},
		"a written address known only at apply": {
			subnet: "10.9.0.0/24",
			nodes:  "container \"c\" {\n" + ctr + "}\ncontainer \"d\" {\n" + ctr + "  mgmt_address = container.c.mgmt_address\n}\n",
			err:    "Management address not known at plan",
			detail: "container.d: mgmt_address refers to a value known only after apply",
			line:   13,
		},
		"a full subnet": {
			subnet: "10.9.0.0/30", // network, host, one node, broadcast
			nodes:  "container \"c\" {\n  count = 2\n" + ctr + "}\n",
			err:    "Management subnet full",
			detail: "no free address left for container.c[1] (the lab has 2 nodes). Choose a larger subnet.",
		},
		"a subnet full of addresses this plan frees (a rename)": {
			subnet: "10.9.0.0/29", // five nodes
			nodes:  "container \"c\" {\n  count = 3\n" + ctr + "}\n",
			gone:   []string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.8.0.9"},
			err:    "Management subnet full",
			detail: "3 of its addresses are still held by nodes this plan removes (container.gone[0], container.gone[1], container.gone[2]), and a plan does not hand out an address it frees. Apply the removal first",
		},
	} {
		t.Run(name, func(t *testing.T) {
			d, p := mgmtLab(t, mgmtSrc(tc.subnet, tc.nodes))
			diags := p.assignManagement(d, func(a addr.Instance) cty.Value {
				ip, ok := tc.prior[a.String()]
				if !ok {
					return cty.NilVal
				}
				m := d.Instances[a].Value.AsValueMap()
				m["mgmt_address"] = cty.StringVal(ip)
				return cty.ObjectVal(m)
			}, leaving(tc.gone))
			if tc.err != "" {
				if tc.line == 0 {
					tc.line = 3
				}
				if !diags.HasErrors() || diags[0].Summary != tc.err || !strings.Contains(diags[0].Detail, tc.detail) || diags[0].Subject == nil || diags[0].Subject.Start.Line != tc.line {
					t.Fatalf("wrong diagnostics\ngot:  %v\nwant: %q (detail with %q) at line %d", diags, tc.err, tc.detail, tc.line)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			got := map[string]string{}
			for _, a := range d.Order {
				if a.Type == "container" {
					got[a.String()] = providers.String(d.Instances[a].Value, "mgmt_address")
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("wrong addresses\ngot:  %v\nwant: %v", got, tc.want)
			}
		})
	}
}

// TestAssignManagement_networkValue: the management network's planned
// value names the bridge after the lab's ID, gives the host the first
// addresses and lists every node (and a container's hostname) for
// /etc/hosts; without a management block nodes have no address.
func TestAssignManagement_networkValue(t *testing.T) {
	src := `lab {
  management {
    subnet  = "10.9.0.0/24"
    subnet6 = "fd00:9::/64"
  }
}
container "leaf_host" {
  count    = 2
  hostname = "h${count.index}"
` + ctr + `}
container "odd" {
  count    = 3
  hostname = ["evil\n10.6.6.6 example.com", "two words", "localhost"][count.index]
` + ctr + `}
`
	d, p := mgmtLab(t, src)
	if diags := p.assignManagement(d, func(addr.Instance) cty.Value { return cty.NilVal }, nil); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	v := d.Instances[managementAddr].Value
	hosts := map[string]string{}
	for k, h := range v.GetAttr("hosts").AsValueMap() {
		hosts[k] = h.AsString()
	}
	got := fmt.Sprintf("%s %s %s %v", providers.String(v, "bridge"), providers.String(v, "host_address"), providers.String(v, "host_address6"), hosts)
	// A hostname that is not a host name (a newline would add a line to
	// /etc/hosts), or localhost, is not listed.
	want := "lfm0123456789ab 10.9.0.1 fd00:9::1 map[h0:10.9.0.2 fd00:9::2 h1:10.9.0.3 fd00:9::3 leaf-host-0:10.9.0.2 fd00:9::2 leaf-host-1:10.9.0.3 fd00:9::3 odd-0:10.9.0.4 fd00:9::4 odd-1:10.9.0.5 fd00:9::5 odd-2:10.9.0.6 fd00:9::6]"
	if got != want {
		t.Fatalf("wrong management network value\ngot:  %s\nwant: %s", got, want)
	}

	d, p = mgmtLab(t, "container \"c\" {\n"+ctr+"}\n")
	if diags := p.assignManagement(d, func(addr.Instance) cty.Value { return cty.NilVal }, nil); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	c := d.Instances[addr.Resource{Type: "container", Name: "c"}.Instance(addr.Key{})].Value
	if !c.GetAttr("mgmt_address").IsNull() || !c.GetAttr("mgmt_address6").IsNull() {
		t.Fatalf("without a management block a node has no management address: %v", c)
	}
	if d.Instances[managementAddr] != nil {
		t.Fatal("without a management block there is no management network")
	}
}

// TestCheckManagement: written addresses are checked, with the
// attribute's line.
func TestCheckManagement(t *testing.T) {
	for name, tc := range map[string]struct {
		src     string
		summary string
		detail  string
		line    int
	}{
		"outside the subnet": {
			src:     mgmtSrc("10.9.0.0/24", "container \"c\" {\n"+ctr+"  mgmt_address = \"10.8.0.5\"\n}\n"),
			summary: "Invalid management address", detail: "outside the management subnet", line: 9,
		},
		"the host's address": {
			src:     mgmtSrc("10.9.0.0/24", "container \"c\" {\n"+ctr+"  mgmt_address = \"10.9.0.1\"\n}\n"),
			summary: "Invalid management address", detail: "the host's address", line: 9,
		},
		"the broadcast address": {
			src:     mgmtSrc("10.9.0.0/24", "container \"c\" {\n"+ctr+"  mgmt_address = \"10.9.0.255\"\n}\n"),
			summary: "Invalid management address", detail: "broadcast", line: 9,
		},
		"an IPv6 address for IPv4": {
			src:     mgmtSrc("10.9.0.0/24", "container \"c\" {\n"+ctr+"  mgmt_address = \"fd00::5\"\n}\n"),
			summary: "Invalid management address", detail: "not an IPv4 address", line: 9,
		},
		"two nodes, one address": {
			src:     mgmtSrc("10.9.0.0/24", "container \"a\" {\n"+ctr+"  mgmt_address = \"10.9.0.5\"\n}\ncontainer \"b\" {\n"+ctr+"  mgmt_address = \"10.9.0.5\"\n}\n"),
			summary: "Duplicate management address", detail: "container.a", line: 14,
		},
		"no management network": {
			src:     "container \"c\" {\n" + ctr + "  mgmt_address = \"10.9.0.5\"\n}\n",
			summary: "Management address without a management network", detail: "lab { management", line: 4,
		},
		"no subnet6": {
			src:     mgmtSrc("10.9.0.0/24", "container \"c\" {\n"+ctr+"  mgmt_address6 = \"fd00::5\"\n}\n"),
			summary: "Management address without a subnet", detail: "no subnet6", line: 9,
		},
	} {
		t.Run(name, func(t *testing.T) {
			d, p := mgmtLab(t, tc.src)
			diags := Validate(p.Registry, d)
			if len(diags) != 1 || diags[0].Summary != tc.summary || !strings.Contains(diags[0].Detail, tc.detail) || diags[0].Subject == nil || diags[0].Subject.Start.Line != tc.line {
				t.Fatalf("wrong diagnostics\ngot:  %v\nwant: %q (detail with %q) at line %d", diags, tc.summary, tc.detail, tc.line)
			}
		})
	}
}

// TestValidateManagementSubnet: the subnets' own checks, at their lines.
func TestValidateManagementSubnet(t *testing.T) {
	for name, tc := range map[string]struct {
		block, summary, detail string
	}{
		"host bits":       {`subnet = "10.9.0.5/24"`, "Invalid management subnet", "write the network's address, 10.9.0.0/24"},
		"too small":       {`subnet = "10.9.0.0/31"`, "Invalid management subnet", "/30 at most"},
		"IPv6 in subnet":  {`subnet = "fd00::/64"`, "Invalid management subnet", "not an IPv4 prefix"},
		"IPv4 in subnet6": {`subnet6 = "10.9.0.0/24"`, "Invalid management subnet", "not an IPv6 prefix"},
		"not a prefix":    {`subnet = "10.9.0.0"`, "Invalid management subnet", "not a CIDR prefix"},
		"no subnet":       {``, "Management network without a subnet", "needs subnet"},
		"loopback":        {`subnet = "127.0.0.0/24"`, "Invalid management subnet", "overlaps 127.0.0.0/8, the IPv4 loopback range"},
		"this network":    {`subnet = "0.0.0.0/0"`, "Invalid management subnet", "overlaps 0.0.0.0/8"},
		"link-local":      {`subnet = "169.254.0.0/24"`, "Invalid management subnet", "the IPv4 link-local range"},
		"multicast":       {`subnet = "224.0.0.0/24"`, "Invalid management subnet", "the IPv4 multicast range"},
		"reserved":        {`subnet = "255.255.255.0/30"`, "Invalid management subnet", "the reserved IPv4 range"},
		"covers loopback": {`subnet = "96.0.0.0/3"`, "Invalid management subnet", "the IPv4 loopback range"},
		"IPv6 loopback":   {`subnet6 = "::/64"`, "Invalid management subnet", "the IPv6 unspecified and loopback addresses"},
		"IPv6 link-local": {`subnet6 = "fe80::/64"`, "Invalid management subnet", "the IPv6 link-local range"},
		"IPv6 multicast":  {`subnet6 = "ff02::/64"`, "Invalid management subnet", "the IPv6 multicast range"},
	} {
		t.Run(name, func(t *testing.T) {
			d, p := mgmtLab(t, "lab {\n  management {\n    "+tc.block+"\n  }\n}\n")
			diags := Validate(p.Registry, d)
			if len(diags) != 1 || diags[0].Summary != tc.summary || !strings.Contains(diags[0].Detail, tc.detail) || diags[0].Subject == nil || diags[0].Subject.Start.Line < 2 || diags[0].Subject.Start.Line > 3 {
				t.Fatalf("wrong diagnostics\ngot:  %v\nwant: %q (detail with %q) in the management block", diags, tc.summary, tc.detail)
			}
		})
	}
}

// leaving makes the nodes container.gone[i] that held ips.
func leaving(ips []string) []leavingNode {
	var out []leavingNode
	for i, ip := range ips {
		a := addr.Resource{Type: "container", Name: "gone"}.Instance(addr.Int(i))
		out = append(out, leavingNode{a, cty.ObjectVal(map[string]cty.Value{"mgmt_address": cty.StringVal(ip), "mgmt_address6": cty.NullVal(cty.String)})})
	}
	return out
}

// BenchmarkAssignManagement10k: the planner's management pass over 10,000
// containers, with a management network (every address assigned) and
// without one (every address null).
func BenchmarkAssignManagement10k(b *testing.B) {
	for name, src := range map[string]string{
		"with":    mgmtSrc("10.0.0.0/16", "container \"c\" {\n  count = 10000\n"+ctr+"}\n"),
		"without": "container \"c\" {\n  count = 10000\n" + ctr + "}\n",
	} {
		b.Run(name, func(b *testing.B) {
			d, p := mgmtLab(&testing.T{}, src)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Each pass rebuilds every node's value, assigned or not:
				// running it again on its own result costs the same.
				if diags := p.assignManagement(d, func(addr.Instance) cty.Value { return cty.NilVal }, nil); diags.HasErrors() {
					b.Fatal(diags.Error())
				}
			}
		})
	}
}

// TestRelengthManagement: a node keeping its address while the subnet's
// length changes is shown with its old length, so that the plan updates
// it in place; an unchanged subnet, a subnet that moved (addresses move
// with it), an address already shown as drift, or no recorded network
// leave it alone.
func TestRelengthManagement(t *testing.T) {
	for name, tc := range map[string]struct {
		recorded, now string // subnets
		current, want string // the node's current mgmt_address, before and after
	}{
		"narrowed":         {"10.9.0.0/24", "10.9.0.0/25", "10.9.0.2", "10.9.0.2/24"},
		"widened":          {"10.9.0.0/25", "10.9.0.0/23", "10.9.0.2", "10.9.0.2/25"},
		"unchanged":        {"10.9.0.0/24", "10.9.0.0/24", "10.9.0.2", "10.9.0.2"},
		"moved subnet":     {"10.8.0.0/24", "10.9.0.0/25", "10.8.0.2", "10.8.0.2"},
		"drift shown":      {"10.9.0.0/24", "10.9.0.0/25", "10.9.0.7/24", "10.9.0.7/24"},
		"no record of one": {"", "10.9.0.0/25", "10.9.0.2", "10.9.0.2"},
	} {
		t.Run(name, func(t *testing.T) {
			d, _ := mgmtLab(t, mgmtSrc(tc.now, "container \"c\" {\n"+ctr+"  mgmt_address = \"10.9.0.2\"\n}\n"))
			c := addr.Resource{Type: "container", Name: "c"}.Instance(addr.Key{})
			rec := cty.NilVal
			if tc.recorded != "" {
				rec = cty.ObjectVal(map[string]cty.Value{"subnet": cty.StringVal(tc.recorded), "subnet6": cty.NullVal(cty.String)})
			}
			cur := d.Instances[c].Value.AsValueMap()
			cur["mgmt_address"] = cty.StringVal(tc.current)
			got := tc.current
			relengthManagement(d, rec, func(a addr.Instance) (cty.Value, bool) {
				return cty.ObjectVal(cur), a == c
			}, func(a addr.Instance, v cty.Value) { got = providers.String(v, "mgmt_address") })
			if got != tc.want {
				t.Fatalf("current mgmt_address %q, want %q", got, tc.want)
			}
		})
	}
}
