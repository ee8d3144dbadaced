package addr

import "testing"

func TestParseTarget(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    string
		whole   bool
		wantErr bool
	}{
		"whole":                             {in: "vm.leaf", want: "vm.leaf", whole: true},
		"count":                             {in: "vm.leaf[3]", want: "vm.leaf[3]"},
		"for_each":                          {in: `container.host["a b"]`, want: `container.host["a b"]`},
		"no name":                           {in: "vm", wantErr: true},
		"negative":                          {in: "vm.leaf[-1]", wantErr: true},
		"fraction":                          {in: "vm.leaf[1.5]", wantErr: true},
		"too long":                          {in: "vm.leaf[1].port", wantErr: true},
		"garbage":                           {in: "vm..leaf", wantErr: true},
		"bool key":                          {in: "vm.leaf[true]", wantErr: true},
		"nested name":                       {in: "firewall_chain.host_in[0]", want: "firewall_chain.host_in[0]"},
		"in module":                         {in: "module.pod[1].container.leaf[0]", want: "module.pod[1].container.leaf[0]"},
		"in module whole":                   {in: `module.pod["a"].container.leaf`, want: `module.pod["a"].container.leaf`, whole: true},
		"nested module":                     {in: "module.a.module.b[2].vm.x", want: "module.a.module.b[2].vm.x", whole: true},
		"module instance":                   {in: "module.pod[1]", want: "module.pod[1]"},
		"module call":                       {in: "module.pod", want: "module.pod", whole: true},
		"keyless module call with resource": {in: "module.pod.vm.x", want: "module.pod.vm.x", whole: true},
		"module no name":                    {in: "module", wantErr: true},
		"module index":                      {in: "module[0]", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseTarget(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseTarget(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want || got.Whole != tc.whole {
				t.Fatalf("wrong target\ngot:  %s (whole %v)\nwant: %s (whole %v)", got, got.Whole, tc.want, tc.whole)
			}
		})
	}
}

func TestInstanceLess(t *testing.T) {
	a := Resource{Type: "vm", Name: "leaf"}
	if !a.Instance(Int(2)).Less(a.Instance(Int(10))) {
		t.Error("count keys must sort numerically")
	}
	if !(Instance{Resource: Resource{Type: "container", Name: "z"}}).Less(a.Instance(Int(0))) {
		t.Error("types sort first")
	}
	tg := Target{Instance: a.Instance(Key{}), Whole: true}
	if !tg.Matches(a.Instance(Int(7))) || tg.Matches(Resource{Type: "vm", Name: "spine"}.Instance(Key{})) {
		t.Error("a whole target matches every instance of its resource only")
	}
}

func TestModuleAddresses(t *testing.T) {
	in := func(s string) Instance {
		t.Helper()
		a, err := ParseInstance(s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	leaf := in("module.pod[1].container.leaf[0]")
	if leaf.Module != "module.pod[1]" || leaf.Type != "container" || leaf.Name != "leaf" || leaf.Key != Int(0) {
		t.Fatalf("parsed %#v", leaf)
	}
	if _, err := ParseInstance("module.pod[1]"); err == nil {
		t.Error("a module is not an instance")
	}
	if _, err := ParseInstance("module.pod"); err == nil {
		t.Error("a module call is not an instance")
	}
	cases := []struct {
		target, inst string
		want         bool
	}{
		{"module.pod[1]", "module.pod[1].container.leaf[0]", true},
		{"module.pod[1]", "module.pod[1].module.x.vm.a", true},
		{"module.pod[1]", "module.pod[10].container.leaf[0]", false},
		{"module.pod[1]", "container.leaf[0]", false},
		{"module.pod", "module.pod[3].container.leaf", true},
		{"module.pod", "module.pods[3].container.leaf", false},
		{"module.pod[1].container.leaf", "module.pod[1].container.leaf[2]", true},
		{"module.pod[1].container.leaf", "container.leaf[2]", false},
		{"container.leaf", "module.pod[1].container.leaf[2]", false},
	}
	for _, c := range cases {
		tg, err := ParseTarget(c.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.Matches(in(c.inst)); got != c.want {
			t.Errorf("%s matches %s: %v, want %v", c.target, c.inst, got, c.want)
		}
	}
	if !in("module.pod[2].vm.a").Less(in("module.pod[10].vm.a")) {
		t.Error("module keys must sort numerically")
	}
	if !in("vm.z").Less(in("module.pod[0].vm.a")) {
		t.Error("root instances sort first")
	}
}
