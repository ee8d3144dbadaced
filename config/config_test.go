package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/providers/all"
)

// TestInvalidFiles loads each file of testdata/config/invalid as a lab
// and compares the errors, by line, with the file's "# ERROR: summary"
// markers. Ranges and summaries are compared, not the detail wording.
func TestInvalidFiles(t *testing.T) {
	files, _ := filepath.Glob("../testdata/config/invalid/*.lab.hcl")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := golden.Markers(src)
			diags := loadAndEval(t, f, src)
			got := map[int]string{}
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				if d.Subject == nil {
					t.Errorf("error without a source range: %s", d.Error())
					continue
				}
				if d.Subject.Filename != f {
					t.Errorf("error in the wrong file %s: %s", d.Subject.Filename, d.Error())
				}
				if _, dup := got[d.Subject.Start.Line]; !dup {
					got[d.Subject.Start.Line] = d.Summary
				}
			}
			if !equalMaps(got, want) {
				var all []string
				for _, d := range diags {
					all = append(all, d.Error())
				}
				t.Errorf("wrong errors\ngot:  %v\nwant: %v\nall:\n%s", got, want, strings.Join(all, "\n"))
			}
		})
	}
}

func loadAndEval(t *testing.T, name string, src []byte) hcl.Diagnostics {
	t.Helper()
	l := config.NewLab(filepath.Dir(name), all.Registry())
	diags := l.AddFile(name, src)
	diags = append(diags, l.Check()...)
	if diags.HasErrors() {
		return diags
	}
	_, more := config.Evaluate(l, config.NewInputs(), nil)
	return append(diags, more...)
}

func equalMaps(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDiagnosticDetails checks the parts of messages a user acts on.
func TestDiagnosticDetails(t *testing.T) {
	cases := map[string][]string{
		"undeclared_resource.lab.hcl":    {`Did you mean "spine"?`},
		"undeclared_variable.lab.hcl":    {`Did you mean "leaves"?`},
		"unknown_attribute.lab.hcl":      {`Did you mean "memory"?`},
		"cycle.lab.hcl":                  {"container.a -> container.b -> container.a"},
		"validation.lab.hcl":             {"leaves must be between 1 and 64"},
		"duplicate.lab.hcl":              {"already declared at"},
		"bad_provider.lab.hcl":           {"qemu, virtualbox"},
		"missing_variable_value.lab.hcl": {"LABFORM_VAR_x"},
		"missing_instance_key.lab.hcl": {`container.c has no instance with key "x"; its keys are "a", "b", "c".`,
			`container.c has no instance with key "z"`, "vm.leaf has no instance with index 5; its count is 2 (indexes 0 to 1)."},
		"enum.lab.hcl": {`"dwon" is not a value state takes; it takes "up" or "down". Did you mean "down"?`,
			`Did you mean "stopped"?`, `Did you mean "running"?`, `Did you mean "kvm"?`, `Did you mean "established"?`},
		"checks.lab.hcl": {`A ping probe's expect is "reply" or "no-reply". Did you mean "reply"?`, `Did you mean "timeout"?`,
			`"Full(" is not a regular expression (Go RE2 syntax): missing closing )`, "the port is a number from 1 to 65535; 70000 is not."},
		"ready.lab.hcl": {`tcp is ADDRESS:PORT`, "exec readiness needs a guest agent", "A ready block belongs to a vm or a container, not to a link."},
	}
	for file, wants := range cases {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("../testdata/config/invalid", file)
			src, _ := os.ReadFile(path)
			var text []string
			for _, d := range loadAndEval(t, path, src) {
				text = append(text, d.Summary+": "+d.Detail)
			}
			all := strings.Join(text, "\n")
			for _, w := range wants {
				if !strings.Contains(all, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, all)
				}
			}
		})
	}
}

// TestDesignExample keeps the language's example lab (testdata/design)
// valid as written.
func TestDesignExample(t *testing.T) {
	l, diags := config.Load("../testdata/design", all.Registry())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, diags := config.Evaluate(l, config.NewInputs(), nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var got []string
	for _, a := range d.Order {
		var deps []string
		for _, dep := range d.Instances[a].Deps {
			deps = append(deps, dep.String())
		}
		got = append(got, a.String()+" <- "+strings.Join(deps, ","))
	}
	want := []string{
		"container.host[0] <- ", "container.host[1] <- ",
		"firewall_chain.host_in[0] <- container.host[0]", "firewall_chain.host_in[1] <- container.host[1]",
		"link.leaf_host[0] <- container.host[0],vm.leaf[0]", "link.leaf_host[1] <- container.host[1],vm.leaf[1]",
		"link.spine_leaf[0] <- vm.leaf[0],vm.spine", "link.spine_leaf[1] <- vm.leaf[1],vm.spine",
		"vm.leaf[0] <- ", "vm.leaf[1] <- ", "vm.spine <- ",
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("wrong instances and dependencies\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	fc := d.Instances[d.Order[2]].Value
	if fc.GetAttr("target").AsString() != "container.host[0]" {
		t.Errorf("target = container.host[0] must store the address, got %#v", fc.GetAttr("target"))
	}
}

// TestReadBackend reads the backend block alone, as the state commands
// do: errors elsewhere do not matter, a file that does not parse does.
func TestReadBackend(t *testing.T) {
	const backend = "lab {\n  backend \"etcd\" {\n    endpoints = [\"http://127.0.0.1:2379\"]\n    prefix = \"labform/x\"\n    ca_file = \"ca.pem\"\n  }\n}\n"
	cases := []struct {
		name, src string
		prefix    string // "" for no backend
		err       bool
	}{
		{"no backend", "vm \"a\" {\n}\n", "", false},
		{"etcd", backend, "labform/x", false},
		{"etcd, an error elsewhere", backend + "vm \"a\" {\n  nonsense = 1\n}\n", "labform/x", false},
		{"a file that does not parse", backend + "vm \"a\" {\n", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			be, diags := config.ReadBackend(dir)
			if diags.HasErrors() != c.err {
				t.Fatalf("errors: %v", diags)
			}
			if c.err {
				return
			}
			got := ""
			if be != nil {
				got = be.Prefix
				if real, _ := filepath.EvalSymlinks(dir); be.CAFile != filepath.Join(real, "ca.pem") {
					t.Errorf("ca_file %q is not taken from the lab directory", be.CAFile)
				}
			}
			if got != c.prefix {
				t.Errorf("prefix %q, want %q", got, c.prefix)
			}
		})
	}
}

// TestLoadedBackend: a lab that loads without an error has the backend
// ReadBackend finds, and LabDir names its directory as Load does (the CLI
// opens the state of a loaded lab by lab.Backend, without reading the
// files again), also when the directory is reached through a link.
func TestLoadedBackend(t *testing.T) {
	const backend = "lab {\n  backend \"etcd\" {\n    endpoints = [\"http://127.0.0.1:2379\"]\n    prefix = \"labform/x\"\n    ca_file = \"ca.pem\"\n  }\n}\n"
	cases := map[string]struct {
		src  string
		link bool
	}{
		"no backend":      {src: "container \"a\" {\n  rootfs = \".\"\n}\n"},
		"etcd":            {src: backend},
		"etcd, by a link": {src: backend, link: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.link {
				link := filepath.Join(t.TempDir(), "lab")
				if err := os.Symlink(dir, link); err != nil {
					t.Fatal(err)
				}
				dir = link
			}
			lab, diags := config.Load(dir, all.Registry())
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := config.LabDir(dir); got != lab.Dir {
				t.Errorf("LabDir(%s) = %q, Load's Dir is %q", dir, got, lab.Dir)
			}
			be, diags := config.ReadBackend(dir)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !reflect.DeepEqual(be, lab.Backend) {
				t.Errorf("ReadBackend found %#v, Load %#v", be, lab.Backend)
			}
		})
	}
}
