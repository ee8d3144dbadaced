package container_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/internal/golden"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers/all"
	"github.com/labform/labform/providers/container"
)

// evalLab evaluates one testdata/container lab file.
func evalLab(t *testing.T, name string) (*config.Desired, hcl.Diagnostics) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../../testdata/container", name))
	if err != nil {
		t.Fatal(err)
	}
	l := config.NewLab("/lab", all.Registry())
	diags := l.AddFile(name, src)
	diags = append(diags, l.Check()...)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", name, diags.Error())
	}
	d, diags := config.Evaluate(l, config.NewInputs(), nil)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", name, diags.Error())
	}
	return d, planner.Validate(all.Registry(), d)
}

// TestSpecGolden compares the config.json of representative containers
// (every option group at least once) with testdata/container/*.config.json.
func TestSpecGolden(t *testing.T) {
	for _, name := range []string{"minimal", "full"} {
		t.Run(name, func(t *testing.T) {
			d, diags := evalLab(t, name+".lab.hcl")
			if diags.HasErrors() {
				t.Fatalf("validate: %s", diags.Error())
			}
			inst := d.Instances[d.Order[0]]
			spec, errs := container.BuildSpec(inst.Value, container.SpecEnv{LabDir: "/lab", Netns: "/var/run/netns/lf-lab-" + name})
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			got, err := json.MarshalIndent(spec, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden.Check(t, filepath.Join("../../testdata/container", name+".config.json"), got)
		})
	}
}

// TestValidateCatchesSpecMistakes: mistakes that only the OCI translation
// can see are validate-time diagnostics on the right line.
func TestValidateCatchesSpecMistakes(t *testing.T) {
	src, _ := os.ReadFile("../../testdata/container/invalid.lab.hcl")
	want := golden.Markers(src)
	_, diags := evalLab(t, "invalid.lab.hcl")
	got := map[int]string{}
	for _, d := range diags {
		if d.Subject == nil {
			t.Errorf("no range: %s", d.Error())
			continue
		}
		got[d.Subject.Start.Line] = d.Summary
	}
	golden.CheckLines(t, got, want)
	var texts []string
	for _, d := range diags {
		texts = append(texts, d.Detail)
	}
	all := strings.Join(texts, "\n")
	for _, hint := range []string{`Did you mean "RLIMIT_SIGPENDING"?`, `Did you mean "noexec"?`, `Did you mean "CAP_NET_ADMIN"?`, "ALL is for cap_add and cap_drop"} {
		if !strings.Contains(all, hint) {
			t.Errorf("diagnostics lack %q:\n%s", hint, all)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]int64{"64MiB": 64 << 20, "1g": 1 << 30, "512k": 512 << 10, "1048576": 1 << 20, "1.5GiB": 3 << 29, "2 MB": 2 << 20}
	for in, want := range cases {
		got, err := container.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "64Mx", "-1", "1..2k"} {
		if _, err := container.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) should fail", bad)
		}
	}
}

// TestCapAddDrop: cap_add and cap_drop change the default set, or the
// listed one, as docker's --cap-add and --cap-drop do.
func TestCapAddDrop(t *testing.T) {
	cases := []struct {
		name, attrs string
		has, lacks  []string
	}{
		{"defaults", ``, []string{"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_CHOWN"}, []string{"CAP_SYS_ADMIN"}},
		{"add to the defaults", `cap_add = ["SYS_ADMIN"]`, []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHOWN"}, nil},
		{"drop from the defaults", `cap_drop = ["cap_net_raw"]`, []string{"CAP_NET_ADMIN"}, []string{"CAP_NET_RAW"}},
		{"add to a list", "capabilities = [\"CAP_KILL\"]\ncap_add = [\"CAP_NET_ADMIN\", \"CAP_KILL\"]", []string{"CAP_KILL", "CAP_NET_ADMIN"}, []string{"CAP_CHOWN"}},
		{"in both: added, as docker does", "cap_add = [\"CAP_SYS_ADMIN\"]\ncap_drop = [\"CAP_SYS_ADMIN\"]", []string{"CAP_SYS_ADMIN", "CAP_CHOWN"}, nil},
		{"drop ALL, add some", "cap_drop = [\"ALL\"]\ncap_add = [\"NET_ADMIN\", \"net_raw\"]", []string{"CAP_NET_ADMIN", "CAP_NET_RAW"}, []string{"CAP_CHOWN", "CAP_KILL"}},
		{"drop ALL", `cap_drop = ["all"]`, nil, []string{"CAP_NET_ADMIN", "CAP_CHOWN"}},
		{"add ALL, drop some", "cap_add = [\"ALL\"]\ncap_drop = [\"SYS_MODULE\"]", []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_TIME"}, []string{"CAP_SYS_MODULE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := config.NewLab("/lab", all.Registry())
			src := "container \"c\" {\n  rootfs = \"r\"\n  " + c.attrs + "\n}\n"
			diags := l.AddFile("main.lab.hcl", []byte(src))
			diags = append(diags, l.Check()...)
			d, more := config.Evaluate(l, config.NewInputs(), nil)
			if diags = append(diags, more...); diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			spec, errs := container.BuildSpec(d.Instances[d.Order[0]].Value, container.SpecEnv{LabDir: "/lab", Netns: "/var/run/netns/x"})
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			got := map[string]bool{}
			for _, n := range spec.Process.Capabilities.Bounding {
				if got[n] {
					t.Errorf("%s listed twice", n)
				}
				got[n] = true
			}
			for _, n := range c.has {
				if !got[n] {
					t.Errorf("lacks %s: %v", n, spec.Process.Capabilities.Bounding)
				}
			}
			for _, n := range c.lacks {
				if got[n] {
					t.Errorf("has %s: %v", n, spec.Process.Capabilities.Bounding)
				}
			}
		})
	}
}
