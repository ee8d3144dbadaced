package planner_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/labform/labform/internal/memprovider"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// resolving is an in-memory container provider whose Resolve answers what
// the test scripts: a digest, and a cost with its reason, or an error.
type resolving struct {
	*memprovider.Provider
	mu      sync.Mutex
	digest  string
	cost    providers.Cost
	exact   bool
	reason  string
	err     error
	refresh []bool
}

func (r *resolving) Resolve(_ context.Context, req providers.ResolveRequest) (providers.ResolveResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh = append(r.refresh, req.Refresh)
	if r.err != nil {
		return providers.ResolveResponse{}, r.err
	}
	resp := providers.ResolveResponse{Resolved: map[string]cty.Value{"image_digest": cty.StringVal(r.digest)}}
	if !req.Prior.IsNull() {
		resp.Cost, resp.Reason, resp.Path, resp.Exact = r.cost, r.reason, cty.GetAttrPath("image_digest"), r.exact
	}
	return resp, nil
}

const resolveLab = `
container "c" {
  image = "lab/img:v1"
}
`

// TestPlan_resolve: what a provider resolves at plan time is in the
// planned value, and the cost it asks for turns a no-op into an in-place
// update, a restart or a replacement, with its reason; an error is a
// diagnostic on the attribute it names.
func TestPlan_resolve(t *testing.T) {
	var fake *resolving
	e := newEnvWith(t, map[string]string{"main.lab.hcl": resolveLab}, func(real providers.Provider, m *memprovider.Provider) providers.Provider {
		if real.Name() == "container" {
			fake = &resolving{Provider: m, digest: "sha256:one"}
			return fake
		}
		return m
	})
	plan, res := e.apply(planner.PlanOptions{Refresh: true})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if got := change(plan, "container.c").After.GetAttr("image_digest"); !got.RawEquals(cty.StringVal("sha256:one")) {
		t.Fatalf("create: planned image_digest %#v", got)
	}
	for _, tc := range []struct {
		name   string
		cost   providers.Cost
		digest string
		want   string
	}{
		{"nothing changed", providers.CostNone, "sha256:one", "no-op/none"},
		{"in place", providers.InPlace, "sha256:one", "update/in-place"},
		{"restart", providers.Restart, "sha256:one", "update/restart"},
		{"replace", providers.Replace, "sha256:two", "replace/replace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.cost, fake.digest, fake.reason = tc.cost, tc.digest, "because "+tc.name
			_, plan := e.plan(planner.PlanOptions{Refresh: true})
			c := change(plan, "container.c")
			if got := actions(plan)["container.c"]; got != tc.want {
				t.Fatalf("action %s, want %s", got, tc.want)
			}
			if tc.cost != providers.CostNone && c.Reason != "because "+tc.name {
				t.Errorf("reason %q", c.Reason)
			}
			if got := c.After.GetAttr("image_digest"); !got.RawEquals(cty.StringVal(tc.digest)) {
				t.Errorf("planned image_digest %#v, want %s", got, tc.digest)
			}
			if tc.cost >= providers.Restart && c.After.GetAttr("pid").IsKnown() {
				t.Errorf("a %s keeps the pid known", tc.want)
			}
		})
	}
	fake.cost, fake.refresh = providers.CostNone, nil
	e.plan(planner.PlanOptions{Refresh: false})
	if len(fake.refresh) != 1 || fake.refresh[0] {
		t.Errorf("Resolve saw refresh %v under -refresh=false", fake.refresh)
	}
	fake.err = &providers.AttrError{Path: cty.GetAttrPath("image"), Summary: "Cannot resolve the image", Detail: "no such tag"}
	_, diags := e.planner().Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: true})
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Start.Line != 3 || !strings.Contains(diags[0].Detail, "no such tag") {
		t.Fatalf("a resolve error: %v; want a diagnostic on line 3", diags)
	}
}

// TestPlan_resolveExact: a change the schema makes a restart (a file's
// content) is planned in place when the provider says exactly so (the file
// has on_change), and the pid stays known.
func TestPlan_resolveExact(t *testing.T) {
	var fake *resolving
	e := newEnvWith(t, map[string]string{"main.lab.hcl": fileLab("one")}, func(real providers.Provider, m *memprovider.Provider) providers.Provider {
		if real.Name() == "container" {
			fake = &resolving{Provider: m, digest: "sha256:one"}
			return fake
		}
		return m
	})
	if _, res := e.apply(planner.PlanOptions{Refresh: true}); res.Err() != nil {
		t.Fatal(res.Err())
	}
	e.write(map[string]string{"main.lab.hcl": fileLab("two")})
	for _, tc := range []struct {
		exact bool
		want  string
	}{{false, "update/restart"}, {true, "update/in-place"}} {
		fake.cost, fake.exact, fake.reason = providers.InPlace, tc.exact, "on_change"
		_, plan := e.plan(planner.PlanOptions{Refresh: true})
		c := change(plan, "container.c")
		if got := actions(plan)["container.c"]; got != tc.want {
			t.Fatalf("exact %v: %s, want %s", tc.exact, got, tc.want)
		}
		if pid := c.After.GetAttr("pid"); pid.IsKnown() != tc.exact {
			t.Errorf("exact %v: planned pid %#v", tc.exact, pid)
		}
		for _, f := range c.ForcedBy {
			if tc.exact && f.Cost == providers.Restart {
				t.Errorf("an in-place change still marks %v as forcing a restart", f.Path)
			}
		}
	}
}

func fileLab(content string) string {
	return `
container "c" {
  image = "lab/img:v1"
  file {
    path      = "/etc/x"
    content   = "` + content + `"
    on_change = ["true"]
  }
}
`
}
