package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/internal/golden"
	"github.com/labform/labform/providers/all"
	"github.com/zclconf/go-cty/cty"
)

// writeLab writes files (paths relative to a new directory) and returns
// the directory.
func writeLab(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const podModule = `variable "name" {
  type = string
}

container "spine" {
  rootfs   = "rootfs"
  hostname = "${var.name}-spine"
}

output "spine_name" {
  value = container.spine.hostname
}
`

// TestModuleDiagnostics loads labs with modules whose files carry
// "# ERROR: summary" markers, in the lab's files and the modules'.
func TestModuleDiagnostics(t *testing.T) {
	cases := map[string]map[string]string{
		"lab and provider blocks in a module": {
			"main.lab.hcl": "module \"pod\" {\n  source = \"./pod\"\n  name = \"p\"\n}\n",
			"pod/main.lab.hcl": podModule + `
lab { # ERROR: Lab block in a module
  name = "inner"
}

provider "container" { # ERROR: Provider block in a module
}

moved { # ERROR: Moved block in a module
  from = container.a
  to   = container.spine
}
`,
		},
		"registry and git sources": {
			"main.lab.hcl": `
module "reg" {
  source = "hashicorp/consul/aws" # ERROR: Unsupported module source
}

module "git" {
  source = "git::https://example.com/pod.git" # ERROR: Unsupported module source
}

module "gh" {
  source = "github.com/example/pod" # ERROR: Unsupported module source
}

module "missing" {
  source = "./nowhere" # ERROR: Module not found
}
`,
		},
		"missing and unknown variables": {
			"main.lab.hcl": `
module "pod" { # ERROR: Missing required argument
  source = "./pod"
  nmae   = "p" # ERROR: Unsupported argument
}
`,
			"pod/main.lab.hcl": podModule,
		},
		"references across modules": {
			"main.lab.hcl": `
module "pod" {
  source = "./pod"
  count  = 2
  name   = "p${count.index}"
}

container "core" {
  rootfs   = "rootfs"
  hostname = module.pod[0].container.spine.hostname # ERROR: Reference to another module's resource
  env = {
    A = module.pod[1].spine_nmae # ERROR: Reference to undeclared output
    B = module.pd[0].spine_name # ERROR: Reference to undeclared module
    C = module.pod[1].spine_name
  }
}
`,
			"pod/main.lab.hcl": podModule + `
container "other" {
  rootfs   = "rootfs"
  hostname = container.core.hostname # ERROR: Reference to undeclared resource
}
`,
		},
		"a module that calls itself": {
			"main.lab.hcl":   "module \"a\" {\n  source = \"./a\"\n}\n",
			"a/main.lab.hcl": "module \"again\" { # ERROR: Modules nested too deep\n  source = \"./\"\n}\n",
		},
		"a check probes a module's container through its output": {
			"main.lab.hcl": `
module "pod" {
  source = "./pod"
  count  = 2
  name   = "p${count.index}"
}

output "spines" {
  value = module.pod[*].spine_name
}

check "spines_reach_each_other" {
  ping {
    from = module.pod[0].spine
    to   = module.pod[1].spine
  }
}

check "bad_node" {
  ping {
    from = module.pod # ERROR: Invalid node for from
    to   = "10.0.0.1"
  }
}
`,
			"pod/main.lab.hcl": podModule + `
output "spine" {
  value = container.spine
}
`,
		},
		"sensitive values through a module": {
			"main.lab.hcl": `
module "pod" {
  source = "./pod"
  token  = "s3cret"
}

output "kept" {
  value     = module.pod.token
  sensitive = true
}
`,
			"pod/main.lab.hcl": `
variable "token" {
  type      = string
  sensitive = true
}

output "token" {
  value     = var.token
  sensitive = true
}

output "unmarked" {
  value = "x${var.token}" # ERROR: Output refers to sensitive values
}
`,
		},
		"wrong argument type": {
			"main.lab.hcl": `
module "pod" {
  source = "./pod"
  name   = ["a", "b"] # ERROR: Invalid value for module argument
}
`,
			"pod/main.lab.hcl": podModule,
		},
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			dir := writeLab(t, files)
			l, diags := config.Load(dir, all.Registry())
			if !diags.HasErrors() {
				_, more := config.Evaluate(l, config.NewInputs(), nil)
				diags = append(diags, more...)
			}
			for file, src := range files {
				want := golden.Markers([]byte(src))
				got := map[int]string{}
				for _, d := range diags {
					if d.Severity != hcl.DiagError || d.Subject == nil {
						continue
					}
					rel, _ := filepath.Rel(dir, d.Subject.Filename)
					if rel != file && !(strings.HasPrefix(rel, "a/") && file == "a/main.lab.hcl") {
						continue
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
					t.Errorf("%s: wrong errors\ngot:  %v\nwant: %v\nall:\n%s", file, got, want, strings.Join(all, "\n"))
				}
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && d.Subject == nil {
					t.Errorf("error without a source range: %s", d.Error())
				}
			}
		})
	}
}

// TestModuleResourceAt finds the block behind module addresses, nested
// ones too, and lists the resources of the lab and its modules.
func TestModuleResourceAt(t *testing.T) {
	dir := writeLab(t, map[string]string{
		"main.lab.hcl":        "module \"a\" {\n  source = \"./a\"\n  count = 2\n}\ncontainer \"top\" {\n  rootfs = \"rootfs\"\n}\n",
		"a/main.lab.hcl":      "module \"b\" {\n  source = \"../b\"\n  for_each = toset([\"x\"])\n}\nvm \"r\" {\n  memory = 64\n}\n",
		"b/main.lab.hcl":      "container \"leaf\" {\n  rootfs = \"rootfs\"\n}\n",
		"unused/main.lab.hcl": "nonsense",
	})
	l, diags := config.Load(dir, all.Registry())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	cases := map[string]string{
		"container.top": "container.top",
		`module.a[1].module.b["x"].container.leaf[0]`: "container.leaf",
		"module.a[0].vm.r":                            "vm.r",
		"module.a[0].container.top":                   "",
		"module.c.vm.r":                               "",
	}
	for in, want := range cases {
		ia, err := addr.ParseInstance(in)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if r := l.ResourceAt(ia.Resource); r != nil {
			got = r.Addr.String()
		}
		if got != want {
			t.Errorf("ResourceAt(%s) = %q, want %q", in, got, want)
		}
	}
	var names []string
	for _, r := range l.AllResources() {
		names = append(names, r.Addr.String())
	}
	if got := strings.Join(names, " "); got != "container.top vm.r container.leaf" {
		t.Errorf("AllResources: %s", got)
	}
	d, diags := config.Evaluate(l, config.NewInputs(), nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var order []string
	for _, a := range d.Order {
		order = append(order, a.String())
	}
	want := `container.top module.a[0].vm.r module.a[0].module.b["x"].container.leaf module.a[1].vm.r module.a[1].module.b["x"].container.leaf`
	if got := strings.Join(order, " "); got != want {
		t.Errorf("instances:\ngot:  %s\nwant: %s", got, want)
	}
}

// BenchmarkEvaluateModules evaluates 1000 containers and 1000 links
// written out in the lab, and the same as 100 instances of a pod module of
// 10 leaves: what a module instance's scope costs.
func BenchmarkEvaluateModules(b *testing.B) {
	pod := `
variable "index" {
  type = number
}

container "spine" {
  rootfs = "rootfs"
  ports  = 10
}

container "leaf" {
  count    = 10
  rootfs   = "rootfs"
  hostname = "pod${var.index}-leaf${count.index}"
}

link "leaf" {
  count     = 10
  endpoints = [container.spine.port[count.index], container.leaf[count.index].port[0]]
}
`
	flat := `
container "spine" {
  count  = 100
  rootfs = "rootfs"
  ports  = 10
}

container "leaf" {
  count    = 1000
  rootfs   = "rootfs"
  hostname = "pod${floor(count.index / 10)}-leaf${count.index % 10}"
}

link "leaf" {
  count     = 1000
  endpoints = [container.spine[floor(count.index / 10)].port[count.index % 10], container.leaf[count.index].port[0]]
}
`
	cases := []struct {
		name  string
		files map[string]string
	}{
		{"flat", map[string]string{"main.lab.hcl": flat}},
		{"modules", map[string]string{
			"main.lab.hcl":     "module \"pod\" {\n  source = \"./pod\"\n  count  = 100\n  index  = count.index\n}\n",
			"pod/main.lab.hcl": pod,
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			l, diags := config.Load(writeLab(b, bc.files), all.Registry())
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, diags := config.Evaluate(l, config.NewInputs(), nil)
				if diags.HasErrors() || len(d.Order) != 2100 {
					b.Fatalf("%d instances: %s", len(d.Order), diags.Error())
				}
			}
		})
	}
}

// TestModuleDependsOn: depends_on = [module.pod] depends on every
// instance in the module; a module call's depends_on reaches every
// resource in it, also those that read no variable.
func TestModuleDependsOn(t *testing.T) {
	dir := writeLab(t, map[string]string{
		"main.lab.hcl": `
container "first" {
  rootfs = "rootfs"
}

module "pod" {
  source     = "./pod"
  count      = 2
  depends_on = [container.first]
}

container "last" {
  rootfs     = "rootfs"
  depends_on = [module.pod]
}
`,
		"pod/main.lab.hcl": `
container "a" {
  rootfs = "rootfs"
}

container "b" {
  rootfs   = "rootfs"
  hostname = container.a.hostname
}
`,
	})
	l, diags := config.Load(dir, all.Registry())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, diags := config.Evaluate(l, config.NewInputs(), nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	deps := func(a string) string {
		ia, err := addr.ParseInstance(a)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, dep := range d.Instances[ia].Deps {
			s = append(s, dep.String())
		}
		return strings.Join(s, " ")
	}
	cases := map[string]string{
		"container.last":            "module.pod[0].container.a module.pod[0].container.b module.pod[1].container.a module.pod[1].container.b",
		"module.pod[1].container.a": "container.first",
		"module.pod[1].container.b": "container.first module.pod[1].container.a",
		"container.first":           "",
	}
	for a, want := range cases {
		if got := deps(a); got != want {
			t.Errorf("deps of %s:\ngot:  %s\nwant: %s", a, got, want)
		}
	}
}

// TestModuleDiagnosticsOnce: a mistake in a module's file or in the
// call's arguments is reported once, however many instances the module
// has, and a mistake in one instance only is reported too.
func TestModuleDiagnosticsOnce(t *testing.T) {
	cases := map[string]struct {
		main, pod string
		file      string
		line      int
	}{
		"in the module's file": {
			main: "module \"pod\" {\n  source   = \"./pod\"\n  for_each = toset([\"a\", \"b\", \"c\"])\n  n = 1\n}\n",
			pod:  "variable \"n\" {\n  type = number\n}\ncontainer \"spine\" {\n  rootfs = \"rootfs\"\n  ports  = \"many\"\n}\n",
			file: "pod/main.lab.hcl", line: 6,
		},
		"in the arguments": {
			main: "module \"pod\" {\n  source   = \"./pod\"\n  for_each = toset([\"a\", \"b\", \"c\"])\n  n = \"x\"\n}\n",
			pod:  "variable \"n\" {\n  type = number\n}\ncontainer \"spine\" {\n  rootfs = \"rootfs\"\n  ports  = var.n\n}\n",
			file: "main.lab.hcl", line: 4,
		},
		"in one instance only": {
			main: "module \"pod\" {\n  source   = \"./pod\"\n  for_each = toset([\"a\", \"b\", \"c\"])\n  n = each.key == \"c\" ? 7 : 1\n}\n",
			pod:  "variable \"n\" {\n  type = number\n}\ncontainer \"spine\" {\n  rootfs = \"rootfs\"\n  ports  = 1\n}\noutput \"o\" {\n  value = [\"x\", \"y\"][var.n]\n}\n",
			file: "pod/main.lab.hcl", line: 9,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := writeLab(t, map[string]string{"main.lab.hcl": tc.main, "pod/main.lab.hcl": tc.pod})
			l, diags := config.Load(dir, all.Registry())
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			_, diags = config.Evaluate(l, config.NewInputs(), nil)
			if len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Start.Line != tc.line ||
				diags[0].Subject.Filename != filepath.Join(dir, tc.file) {
				t.Fatalf("want one error at %s:%d, got %d:\n%s", tc.file, tc.line, len(diags), diags.Error())
			}
		})
	}
}

// TestModuleManyInstances evaluates a call of 100 instances (evaluated
// on every core) and refuses one that would pass the lab's limit of
// instances before evaluating its instances.
func TestModuleManyInstances(t *testing.T) {
	dir := writeLab(t, map[string]string{
		"main.lab.hcl":     "variable \"n\" {\n  type = number\n}\nmodule \"pod\" {\n  source = \"./pod\"\n  count  = var.n\n  index  = count.index\n}\noutput \"last\" {\n  value = module.pod[var.n - 1].name\n}\n",
		"pod/main.lab.hcl": "variable \"index\" {\n  type = number\n}\ncontainer \"leaf\" {\n  count    = 10\n  rootfs   = \"rootfs\"\n  hostname = \"pod${var.index}-leaf${count.index}\"\n}\noutput \"name\" {\n  value = container.leaf[9].hostname\n}\n",
	})
	l, diags := config.Load(dir, all.Registry())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	in := config.NewInputs()
	in.SetValue("n", cty.NumberIntVal(100))
	d, diags := config.Evaluate(l, in, nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(d.Order) != 1000 || d.Order[999].String() != "module.pod[99].container.leaf[9]" {
		t.Fatalf("%d instances, the last %s", len(d.Order), d.Order[len(d.Order)-1])
	}
	outs, diags := d.Outputs(nil)
	if diags.HasErrors() || outs["last"].Value.AsString() != "pod99-leaf9" {
		t.Fatalf("output last = %#v %s", outs["last"].Value, diags.Error())
	}
	in.SetValue("n", cty.NumberIntVal(6000))
	_, diags = config.Evaluate(l, in, nil)
	if !diags.HasErrors() || diags[0].Summary != "Too many instances" || !strings.Contains(diags[0].Detail, "module.pod makes 6000 instance(s)") {
		t.Fatalf("want Too many instances for module.pod, got %s", diags.Error())
	}
}
