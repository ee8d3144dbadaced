package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/internal/labreg"
	"github.com/labform/labform/internal/memprovider"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/all"
)

// TestMain lets the test binary act as labform with in-memory providers
// (LABFORM_TEST_MAIN=1), or with the real ones (LABFORM_TEST_MAIN=real),
// for tests that need a separate process to kill.
func TestMain(m *testing.M) {
	cleanup := labreg.ForTests()
	if os.Getenv("LABFORM_TEST_MAIN") == "real" { // the real providers, as the binary has them
		os.Exit(run(os.Args[1:], all.Registry(), stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
	}
	if os.Getenv("LABFORM_TEST_MAIN") == "1" {
		reg, _ := memRegistry(os.Getenv("LABFORM_TEST_MEMDIR"))
		if d, err := time.ParseDuration(os.Getenv("LABFORM_TEST_DELAY")); err == nil {
			for _, name := range reg.Names() {
				p, _ := reg.Provider(name)
				p.(*memprovider.Provider).Delay = d
			}
		}
		os.Exit(run(os.Args[1:], reg, stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// memRegistry has the real providers' names and schemas with in-memory
// behaviour; with dir set, objects are files there, shared by processes.
func memRegistry(dir string) (*providers.Registry, map[string]*memprovider.Provider) {
	reg := providers.NewRegistry()
	mems := map[string]*memprovider.Provider{}
	for _, p := range all.Providers() {
		m := memprovider.Wrap(p)
		m.Dir = dir
		mems[p.Name()] = m
		reg.Register(m)
	}
	return reg, mems
}

type cli struct {
	t    *testing.T
	dir  string
	reg  *providers.Registry
	mems map[string]*memprovider.Provider
}

func newCLI(t *testing.T, files map[string]string) *cli {
	t.Helper()
	c := &cli{t: t, dir: t.TempDir()}
	c.reg, c.mems = memRegistry("")
	c.write(files)
	return c
}

func (c *cli) write(files map[string]string) {
	for name, src := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(c.dir, name)), 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(src), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

type result struct {
	code        int
	out, errOut string
}

func (c *cli) run(stdin string, terminal bool, args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"-chdir=" + c.dir, "-no-color"}, args...), c.reg,
		stdio{in: strings.NewReader(stdin), out: &out, err: &errOut, terminal: &terminal})
	return result{code, out.String(), errOut.String()}
}

func (c *cli) must(want int, args ...string) result {
	c.t.Helper()
	r := c.run("", false, args...)
	if r.code != want {
		c.t.Fatalf("labform %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.out, r.errOut)
	}
	return r
}

func (c *cli) objects() int {
	n := 0
	for _, m := range c.mems {
		n += m.Len()
	}
	return n
}

const quickLab = `
lab {
  name = "t"
}

variable "hosts" {
  type    = number
  default = 2
}

variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}

vm "router" {
  memory   = 256
  adapters = var.hosts
}

container "host" {
  count    = var.hosts
  rootfs   = "rootfs"
  hostname = "host${count.index}"
  ports    = 1
  env = {
    TOKEN = var.secret
  }
}

link "wire" {
  count     = var.hosts
  endpoints = [vm.router.port[count.index], container.host[count.index].port[0]]
}

output "router_pid" {
  value = vm.router.pid
}

output "hostnames" {
  value = container.host[*].hostname
}
`

func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

func TestCLI_workflow(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	r := c.must(0, "init")
	contains(t, "init", r.out, "successfully initialized", "Providers this lab uses")
	if _, err := os.Stat(filepath.Join(c.dir, ".labform")); err != nil {
		t.Fatal("init did not create .labform/")
	}
	c.must(0, "validate")

	r = c.must(2, "plan", "-detailed-exitcode")
	contains(t, "plan", r.out, "# vm.router will be created", "(known after apply)", "Plan: 5 to add, 0 to change, 0 to destroy.",
		"(sensitive value)", "Changes to Outputs:")
	if strings.Contains(r.out, "hunter2") {
		t.Error("the plan shows a sensitive value")
	}

	r = c.must(1, "apply")
	contains(t, "apply without a terminal", r.errOut, "-auto-approve")
	if c.objects() != 0 {
		t.Fatal("apply without approval changed the lab")
	}

	r = c.must(0, "apply", "-auto-approve")
	contains(t, "apply", r.out, "vm.router: Creating...", "vm.router: Creation complete after 0s",
		"Apply complete! Resources: 5 added, 0 changed, 0 destroyed.", "Outputs:", "router_pid = ", `"host1"`)
	if !regexp.MustCompile(`router_pid = [1-9][0-9]{3}\n`).MatchString(r.out) {
		t.Errorf("router_pid is not the pid the provider returned:\n%s", r.out)
	}
	if c.objects() != 5 {
		t.Fatalf("%d objects in the lab, want 5", c.objects())
	}
	c.must(0, "plan", "-detailed-exitcode")
	r = c.must(0, "state", "list")
	if got := strings.Fields(r.out); strings.Join(got, " ") != "container.host[0] container.host[1] link.wire[0] link.wire[1] vm.router" {
		t.Errorf("state list: %v", got)
	}
	r = c.must(0, "state", "show", "container.host[1]")
	contains(t, "state show", r.out, `hostname`, `"host1"`)
	r = c.must(0, "output", "-json", "hostnames")
	if strings.TrimSpace(r.out) != `["host0","host1"]` {
		t.Errorf("output -json hostnames: %q", r.out)
	}
	r = c.must(0, "show", "-json")
	contains(t, "show -json", r.out, `"address": "vm.router"`, `"router_pid"`)
	r = c.must(0, "graph", "-type=plan")
	contains(t, "graph", r.out, `"vm.router" -> "link.wire[0]"`, `"container.host[1]" -> "link.wire[1]"`)

	// -var changes the lab: one more host, wire and a restart of the router
	// (adapters changed).
	r = c.must(2, "plan", "-detailed-exitcode", "-var", "hosts=3")
	contains(t, "plan -var", r.out, "# vm.router will be restarted", "# forces restart", "Plan: 2 to add, 3 to change, 0 to destroy.")
	t.Setenv("LABFORM_VAR_hosts", "1")
	r = c.must(2, "plan", "-detailed-exitcode")
	contains(t, "plan from the environment", r.out, "# container.host[1] will be destroyed", "# link.wire[1] will be destroyed")

	r = c.must(0, "destroy", "-auto-approve")
	contains(t, "destroy", r.out, "Destroy complete! Resources: 0 added, 0 changed, 5 destroyed.")
	if c.objects() != 0 {
		t.Fatalf("%d objects left after destroy", c.objects())
	}
	r = c.must(0, "state", "list")
	if strings.TrimSpace(r.out) != "" {
		t.Errorf("state after destroy: %q", r.out)
	}
}

func TestCLI_approvalOnTerminal(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	r := c.run("no\n", true, "apply")
	if r.code != 1 || !strings.Contains(r.out, "Apply cancelled.") || c.objects() != 0 {
		t.Fatalf("answering no: exit %d, %d objects\n%s", r.code, c.objects(), r.out)
	}
	r = c.run("yes\n", true, "apply")
	if r.code != 0 || c.objects() != 5 {
		t.Fatalf("answering yes: exit %d, %d objects\n%s%s", r.code, c.objects(), r.out, r.errOut)
	}
	contains(t, "prompt", r.out, "Only 'yes' will be accepted")
}

func TestCLI_savedPlan(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	planFile := filepath.Join(c.dir, "p.plan")
	c.must(0, "plan", "-out", planFile)
	r := c.must(0, "show", planFile)
	contains(t, "show PLANFILE", r.out, "Plan: 5 to add")
	c.must(0, "apply", planFile)
	if c.objects() != 5 {
		t.Fatalf("%d objects after applying the saved plan", c.objects())
	}
	// The state moved on: the same file is now stale.
	r = c.must(1, "apply", planFile)
	contains(t, "stale plan", r.errOut, "Saved plan is stale")

	// A plan made, then the lab files changed.
	c.must(0, "plan", "-out", planFile, "-var", "hosts=3")
	c.write(map[string]string{"main.lab.hcl": strings.Replace(quickLab, "memory   = 256", "memory   = 512", 1)})
	r = c.must(1, "apply", planFile)
	contains(t, "changed files", r.errOut, "does not match the configuration")
}

func TestCLI_lockContention(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	c.must(0, "init")
	holder := exec.Command(os.Args[0], "-chdir="+c.dir, "apply", "-auto-approve", "-parallelism=1")
	holder.Env = append(os.Environ(), "LABFORM_TEST_MAIN=1", "LABFORM_TEST_MEMDIR="+t.TempDir(), "LABFORM_TEST_DELAY=400ms")
	var hout bytes.Buffer
	holder.Stdout, holder.Stderr = &hout, &hout
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	// Wait until the holder has the lock (its lock-info file appears).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(c.dir, ".labform", "state.db.lock-info")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder never took the lock:\n%s", hout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	r := c.must(1, "plan")
	contains(t, "locked", r.errOut, "locked", "labform apply", "-lock-timeout")
	if time.Since(start) > 3*time.Second {
		t.Errorf("a locked state must be refused at once, took %v", time.Since(start))
	}
	// With -lock-timeout the second run waits for the first to finish.
	r = c.must(0, "plan", "-lock-timeout=60s", "-refresh=false")
	if err := holder.Wait(); err != nil {
		t.Fatalf("holder: %v\n%s", err, hout.String())
	}
}

func TestCLI_fmt(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": "vm \"a\" {\nmemory=256\n  cpus = 2\n}\n"})
	r := c.must(3, "fmt", "-check", "-diff", c.dir)
	contains(t, "fmt -check -diff", r.out, "main.lab.hcl", "+  memory = 256")
	c.must(0, "fmt", c.dir)
	c.must(0, "fmt", "-check", c.dir)
	b, _ := os.ReadFile(filepath.Join(c.dir, "main.lab.hcl"))
	if !strings.Contains(string(b), "  memory = 256\n") {
		t.Errorf("fmt did not rewrite the file:\n%s", b)
	}
}

func TestCLI_stateCommands(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	for _, m := range c.mems {
		m.ByID = true // an ID lost by pull and push reads as a missing object
	}
	c.must(0, "apply", "-auto-approve")
	pulled := c.must(0, "state", "pull").out
	contains(t, "state pull", pulled, `"id": "`)
	c.must(0, "state", "mv", "link.wire[1]", "link.spare")
	r := c.must(0, "state", "list", "link.spare")
	if strings.TrimSpace(r.out) != "link.spare" {
		t.Fatalf("state mv: %q", r.out)
	}
	c.must(0, "state", "rm", "container.host")
	r = c.must(0, "state", "list")
	if strings.Contains(r.out, "container.host") {
		t.Fatalf("state rm container.host left: %s", r.out)
	}
	// push refuses an older serial, and takes it with -force.
	f := filepath.Join(c.dir, "pulled.json")
	os.WriteFile(f, []byte(pulled), 0o644)
	r = c.must(1, "state", "push", f)
	contains(t, "push of an older state", r.errOut, "older")
	c.must(0, "state", "push", "-force", f)
	r = c.must(0, "state", "list")
	if len(strings.Fields(r.out)) != 5 {
		t.Fatalf("after push: %s", r.out)
	}
	again := c.must(0, "state", "pull").out
	for _, line := range strings.Split(pulled, "\n") {
		if strings.Contains(line, `"id": "`) && !strings.Contains(again, line) {
			t.Fatalf("push lost an object's ID: %s", strings.TrimSpace(line))
		}
	}
	c.must(0, "plan", "-detailed-exitcode")
}

func TestCLI_validateErrorsShowSource(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": "vm \"spine\" {\n  adapters = 2\n}\nlink \"l\" {\n  endpoints = [vm.spien.port[0], vm.spine.port[1]]\n}\n"})
	r := c.must(1, "validate")
	contains(t, "validate", r.errOut, "Error: Reference to undeclared resource", "main.lab.hcl line 5", `Did you mean "spine"?`, "vm.spien.port[0]")
	r = c.must(1, "validate", "-json")
	contains(t, "validate -json", r.out, `"valid": false`, `"line": 5`, `"column": 16`)
	r = c.must(1, "plan")
	contains(t, "plan with errors", r.errOut, "Reference to undeclared resource")
}

func TestCLI_panicIsAReportNotAStackTrace(t *testing.T) {
	reg, mems := memRegistry("")
	mems["qemu"].Fail = func(string, string) error { panic("provider bug") }
	var out, errOut bytes.Buffer
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(`vm "a" {}`), 0o644)
	f := false
	code := run([]string{"-chdir=" + dir, "apply", "-auto-approve"}, reg, stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &f})
	if code != 1 || !strings.Contains(errOut.String(), "crashed: provider bug") || strings.Contains(errOut.String(), "goroutine ") {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
}

func TestBinaryDoesNotLinkTheTestProvider(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "internal/memprovider") {
		t.Fatal("the labform binary links the in-memory test provider")
	}
	// Graphviz compiles itself in a package init, in every process that
	// links it: labform runs it in its helper (internal/graphviz).
	if strings.Contains(string(out), "goccy/go-graphviz") || strings.Contains(string(out), "internal/graphviz") {
		t.Fatal("the labform binary links go-graphviz")
	}
}

func TestNormalizeArgs(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"plan -out=x -var a=-1 -h --json -parallelism -5 -- -x", "plan --out=x --var a=-1 -h --json --parallelism -5 -- -x"},
		// exec: what follows the address is the command's, as it is.
		{"-chdir lab exec -var a=-1 c ls -l -var", "--chdir lab exec --var a=-1 c ls -l -var"},
		{"exec -var-file=x.vars container.a[0] ip -br addr", "exec --var-file=x.vars container.a[0] ip -br addr"},
		{"exec c -- sh -c 'x'", "exec c -- sh -c 'x'"},
	} {
		if got := strings.Join(normalizeArgs(strings.Fields(tc.args)), " "); got != tc.want {
			t.Errorf("normalizeArgs(%s)\ngot:  %q\nwant: %q", tc.args, got, tc.want)
		}
	}
}

func TestCLI_colorsOnlyOnATerminal(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab})
	plan := func(terminal bool, extra ...string) string {
		var out, errOut bytes.Buffer
		code := run(append([]string{"-chdir=" + c.dir, "plan"}, extra...), c.reg,
			stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &terminal})
		if code != 0 {
			t.Fatalf("plan: exit %d\n%s", code, errOut.String())
		}
		return out.String()
	}
	if !strings.Contains(plan(true), "\x1b[") {
		t.Error("no colors on a terminal")
	}
	if strings.Contains(plan(false), "\x1b[") {
		t.Error("colors when not on a terminal")
	}
	if strings.Contains(plan(true, "-no-color"), "\x1b[") {
		t.Error("colors despite -no-color")
	}
	t.Setenv("NO_COLOR", "1")
	if strings.Contains(plan(true), "\x1b[") {
		t.Error("colors despite NO_COLOR")
	}
}

func TestCLI_variableSources(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": quickLab, "three.labvars": "hosts = 3\n", "bad.labvars": "hosts = \"many\"\n"})
	// -var-file, then -var wins over it, the environment loses to both.
	t.Setenv("LABFORM_VAR_hosts", "4")
	r := c.must(2, "plan", "-detailed-exitcode", "-var-file", "three.labvars")
	contains(t, "plan -var-file", r.out, "Plan: 7 to add")
	r = c.must(2, "plan", "-detailed-exitcode", "-var-file", "three.labvars", "-var", "hosts=1")
	contains(t, "plan -var over -var-file", r.out, "Plan: 3 to add")
	r = c.must(2, "plan", "-detailed-exitcode")
	contains(t, "plan from the environment", r.out, "Plan: 9 to add")
	r = c.must(1, "plan", "-var-file", "bad.labvars")
	contains(t, "a wrong type", r.errOut, "Invalid value for variable", "bad.labvars line 1", "a number is required")
	r = c.must(1, "plan", "-var", "nosuch=1")
	contains(t, "an undeclared variable", r.errOut, "Value for undeclared variable")
	r = c.must(0, "version")
	contains(t, "version", r.out, "labform v", "providers: container, link, management, netfilter, qemu, virtualbox")
}

// TestDesignExampleValidatesWithTheRealProviders: the example lab of
// testdata/design validates as written on any machine; what the host
// lacks (netem here) is a plan-time error, not a validate one.
func TestDesignExampleValidatesWithTheRealProviders(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../testdata/design/campus.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "campus.lab.hcl"), src, 0o644)
	var out, errOut bytes.Buffer
	f := false
	if code := run([]string{"-chdir=" + dir, "validate"}, all.Registry(), stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &f}); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, errOut.String())
	}
}

// TestApply_progress: an action that runs long is reported while it runs,
// as Terraform does ("Still creating... [10s elapsed]"), for every kind
// of action, in the human and the JSON output.
func TestApply_progress(t *testing.T) {
	c := newCLI(t, map[string]string{"main.lab.hcl": `
container "a" {
  rootfs = "rootfs"
}
`})
	for _, m := range c.mems {
		m.Delay = 300 * time.Millisecond
	}
	apply := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		terminal := false
		code := run(append([]string{"-chdir=" + c.dir, "-no-color"}, args...), c.reg,
			stdio{in: strings.NewReader(""), out: &out, err: &errOut, terminal: &terminal, progressEvery: 100 * time.Millisecond})
		if code != 0 {
			t.Fatalf("labform %v: exit %d\n%s%s", args, code, out.String(), errOut.String())
		}
		return out.String()
	}
	// In order: each case builds on the one before.
	steps := []struct {
		src  string
		args []string
		want string
	}{
		{args: []string{"apply", "-auto-approve"}, want: "container.a: Still creating... [100ms elapsed]\ncontainer.a: Still creating... [200ms elapsed]\n"},
		{src: "hostname = \"x\"\n", args: []string{"apply", "-auto-approve"}, want: "container.a: Still replacing... [100ms elapsed]\n"},
		{src: "hostname = \"y\"\n", args: []string{"apply", "-auto-approve", "-json"}, want: `"@message":"container.a: Still replacing... [100ms elapsed]"`},
		{args: []string{"destroy", "-auto-approve"}, want: "container.a: Still destroying... [100ms elapsed]\n"},
	}
	for _, st := range steps {
		c.write(map[string]string{"main.lab.hcl": "container \"a\" {\n  rootfs = \"rootfs\"\n" + st.src + "}\n"})
		if out := apply(st.args...); !strings.Contains(out, st.want) {
			t.Errorf("labform %v: no %q in:\n%s", st.args, st.want, out)
		}
	}
}
