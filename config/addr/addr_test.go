package addr

import "testing"

func TestParseTarget(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    string
		whole   bool
		wantErr bool
	}{
		"whole":       {in: "vm.leaf", want: "vm.leaf", whole: true},
		"count":       {in: "vm.leaf[3]", want: "vm.leaf[3]"},
		"for_each":    {in: `container.host["a b"]`, want: `container.host["a b"]`},
		"no name":     {in: "vm", wantErr: true},
		"negative":    {in: "vm.leaf[-1]", wantErr: true},
		"fraction":    {in: "vm.leaf[1.5]", wantErr: true},
		"too long":    {in: "vm.leaf[1].port", wantErr: true},
		"garbage":     {in: "vm..leaf", wantErr: true},
		"bool key":    {in: "vm.leaf[true]", wantErr: true},
		"nested name": {in: "firewall_chain.host_in[0]", want: "firewall_chain.host_in[0]"},
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
	a := Resource{"vm", "leaf"}
	if !a.Instance(Int(2)).Less(a.Instance(Int(10))) {
		t.Error("count keys must sort numerically")
	}
	if !(Instance{Resource: Resource{"container", "z"}}).Less(a.Instance(Int(0))) {
		t.Error("types sort first")
	}
	tg := Target{Instance: a.Instance(Key{}), Whole: true}
	if !tg.Matches(a.Instance(Int(7))) || tg.Matches(Resource{"vm", "spine"}.Instance(Key{})) {
		t.Error("a whole target matches every instance of its resource only")
	}
}
