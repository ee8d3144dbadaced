package container

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestCheckHost_capabilities: a capability the host's bounding set lacks
// is a plan error on the attribute that asked for it (cap_add by name or
// ALL, the list), with what to do; without one, nothing. Which
// capabilities this host lacks is read, not assumed.
func TestCheckHost_capabilities(t *testing.T) {
	missing := missingCapabilities(allCapabilities())
	strs := func(l ...string) cty.Value {
		if len(l) == 0 {
			return cty.NullVal(cty.List(cty.String))
		}
		var vs []cty.Value
		for _, s := range l {
			vs = append(vs, cty.StringVal(s))
		}
		return cty.ListVal(vs)
	}
	val := func(caps, add, drop cty.Value) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"privileged": cty.False, "capabilities": caps, "cap_add": add, "cap_drop": drop})
	}
	type tc struct {
		name       string
		v          cty.Value
		attr, want string // attr "" wants no error
	}
	cases := []tc{
		{"defaults", val(strs(), strs(), strs()), "", ""},
		{"add ALL dropping what the host lacks", val(strs(), strs("ALL"), strs(missing...)), "", ""},
		{"one the host has", val(strs(), strs("NET_ADMIN"), strs()), "", ""},
	}
	if len(missing) > 0 {
		m := missing[0]
		cases = append(cases,
			tc{"add ALL", val(strs(), strs("ALL"), strs()), "cap_add", strings.Join(missing, ", ") + " (its bounding set in /proc/self/status, CapBnd), so runc would refuse the container: add"},
			tc{"add one by name", val(strs(), strs(strings.ToLower(strings.TrimPrefix(m, "CAP_"))), strs()), "cap_add", m + " (its bounding set"},
			tc{"in the list", val(strs("CAP_KILL", m), strs(), strs()), "capabilities", m + " (its bounding set"},
			tc{"in the list, dropped", val(strs("CAP_KILL", m), strs(), strs(m)), "", ""},
		)
	} else {
		cases = append(cases, tc{"add ALL on a host that gives every capability", val(strs(), strs("ALL"), strs()), "", ""})
	}
	p := New()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := p.CheckHost("container", c.v)
			if c.attr == "" {
				if len(errs) > 0 {
					t.Fatalf("errors: %s", errs[0].Detail)
				}
				return
			}
			if len(errs) != 1 || !errs[0].Path.Equals(cty.GetAttrPath(c.attr)) || !strings.Contains(errs[0].Detail, c.want) {
				t.Fatalf("errors %+v; want one on %s saying %q", errs, c.attr, c.want)
			}
		})
	}
}
