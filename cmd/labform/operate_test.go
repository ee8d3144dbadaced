package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// topologyCases are the labs whose pictures and status are kept as
// goldens: the quickstart example and a lab with a segment.
var topologyCases = map[string]string{
	"quickstart": "../../examples/quickstart/main.lab.hcl",
	"segment":    "../../testdata/topology/segment.lab.hcl",
}

// TestGoldenTopology draws each lab as DOT and as Mermaid.
func TestGoldenTopology(t *testing.T) {
	for name, path := range topologyCases {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c := newCLI(t, map[string]string{"main.lab.hcl": string(src)})
			checkGolden(t, filepath.Join("../../testdata/topology", name+".dot.golden"), c.must(0, "graph", "-format=dot").out)
			checkGolden(t, filepath.Join("../../testdata/topology", name+".mmd.golden"), c.must(0, "graph", "-format", "mermaid").out)
		})
	}
}

// TestGraph_vars: graph evaluates the lab with -var and -var-file, as
// plan does.
func TestGraph_vars(t *testing.T) {
	src, err := os.ReadFile(topologyCases["quickstart"])
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, map[string]string{"main.lab.hcl": string(src), "four.vars": "hosts = 4\n"})
	for _, args := range [][]string{{"-var", "hosts=4"}, {"-var-file", "four.vars"}} {
		out := c.must(0, append([]string{"graph"}, args...)...).out
		if !strings.Contains(out, `"container.host[3]"`) || !strings.Contains(out, `label="link.uplink[3]"`) {
			t.Errorf("graph %v draws no fourth host:\n%s", args, out)
		}
	}
	if r := c.run("", false, "graph", "-var", "hosts=9"); r.code != 1 || !strings.Contains(r.errOut, "hosts must be between 2 and 4") {
		t.Errorf("graph -var hosts=9: exit %d, %s", r.code, r.errOut)
	}
	if r := c.run("", false, "graph", "-type=plan", "-format=mermaid"); r.code != 1 {
		t.Errorf("-type=plan -format=mermaid: exit %d", r.code)
	}
}

// maskStatus hides what differs between runs: the lab's directory, the
// hashes host names derive from (object IDs), pids and console ports.
func maskStatus(dir, s string) string {
	s = strings.ReplaceAll(s, dir, "LABDIR")
	s = regexp.MustCompile(`(lfc-|lf-|lfp|lfb|lfh|runc-|qemu/)[0-9a-f]{8,16}`).ReplaceAllString(s, "${1}ID")
	s = regexp.MustCompile(`(LABDIR/\.labform/qemu/)[0-9a-f]{12}`).ReplaceAllString(s, "${1}ID")
	s = regexp.MustCompile(`127\.0\.0\.1( |:)[0-9]+`).ReplaceAllString(s, "127.0.0.1${1}PORT")
	s = regexp.MustCompile(`"pid": [0-9]+`).ReplaceAllString(s, `"pid": PID`)
	return s
}

// TestGoldenStatus applies each lab (in memory) and compares status, as a
// table and as JSON, with the live values masked.
func TestGoldenStatus(t *testing.T) {
	for name, path := range topologyCases {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c := newCLI(t, map[string]string{"main.lab.hcl": string(src)})
			before := c.must(0, "status").out
			if !strings.Contains(before, "not created") {
				t.Errorf("status before apply does not say the nodes are not created:\n%s", before)
			}
			// The in-memory nodes have no namespaces to probe from.
			c.must(0, "apply", "-auto-approve", "-checks=off")
			checkGolden(t, filepath.Join("../../testdata/topology", name+".status.golden"), maskStatus(c.dir, c.must(0, "status").out))
			js := c.must(0, "inspect", "-json").out
			var doc struct {
				Nodes []struct {
					Address string `json:"address"`
					State   string `json:"state"`
				} `json:"nodes"`
			}
			if err := json.Unmarshal([]byte(js), &doc); err != nil || len(doc.Nodes) == 0 {
				t.Fatalf("status -json: %v:\n%s", err, js)
			}
			checkGolden(t, filepath.Join("../../testdata/topology", name+".status.json.golden"), maskStatus(c.dir, js))
		})
	}
}

// TestVarFlags_everyCommandThatEvaluates: graph, status, exec, console
// and output take -var and -var-file, and refuse a value the lab's
// validation refuses.
func TestVarFlags_everyCommandThatEvaluates(t *testing.T) {
	src, err := os.ReadFile(topologyCases["quickstart"])
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, map[string]string{"main.lab.hcl": string(src), "bad.vars": "hosts = 7\n", "good.vars": "hosts = 3\n"})
	c.must(0, "apply", "-auto-approve", "-checks=off", "-var-file=good.vars") // the in-memory nodes have no namespaces to probe from
	for _, args := range [][]string{
		{"graph"}, {"status"}, {"inspect", "-json"}, {"output"}, {"exec", "container.host[0]", "--", "true"}, {"console", "vm.router"},
	} {
		for _, bad := range [][]string{{"-var", "hosts=7"}, {"-var-file", "bad.vars"}} {
			full := append(append([]string{args[0]}, bad...), args[1:]...)
			if r := c.run("", false, full...); r.code != 1 || !strings.Contains(r.errOut, "hosts must be between 2 and 4") {
				t.Errorf("labform %v: exit %d, want 1 with the validation's message:\n%s", full, r.code, r.errOut)
			}
		}
	}
	if out := c.must(0, "status", "-var-file=good.vars").out; !strings.Contains(out, "container.host[2]  container  running") {
		t.Errorf("status -var-file=good.vars:\n%s", out)
	}
	if out := c.must(0, "output", "-var", "hosts=3", "host_netns").out; !strings.Contains(out, "mem://container.host[2]/netns") {
		t.Errorf("output -var hosts=3 host_netns:\n%s", out)
	}
}

// TestGraph_svgAndHTML: svg and html are laid out by labform-graphviz,
// the helper make build puts beside labform; without it the error says
// how to get it.
func TestGraph_svgAndHTML(t *testing.T) {
	helper := filepath.Join(t.TempDir(), "labform-graphviz")
	if out, err := exec.Command("go", "build", "-o", helper, "../labform-graphviz").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/labform-graphviz: %v\n%s", err, out)
	}
	src, err := os.ReadFile(topologyCases["segment"])
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, map[string]string{"main.lab.hcl": string(src)})
	t.Setenv("LABFORM_GRAPHVIZ", helper)
	svg := c.must(0, "graph", "-format=svg").out
	for _, want := range []string{"<svg", "<title>vm.core</title>", "<title>link.lan</title>", ">firewall core_in</text>", `stroke="red"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the SVG has no %q", want)
		}
	}
	page := c.must(0, "graph", "-format", "html").out
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "<svg") || !strings.Contains(page, `"address":"container.r[1]"`) {
		t.Errorf("the page lacks its SVG or its data:\n%.1500s", page)
	}
	t.Setenv("LABFORM_GRAPHVIZ", "")
	t.Setenv("PATH", t.TempDir())
	if r := c.run("", false, "graph", "-format=svg"); r.code != 1 || !strings.Contains(r.errOut, "make build builds both into bin/") {
		t.Errorf("graph -format=svg without the helper: exit %d\n%s", r.code, r.errOut)
	}
}

// TestIsTerminal: a character device that is not a terminal (/dev/null,
// where CI and cron send output) is not taken for one; a pseudo-terminal
// is.
func TestIsTerminal(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	for _, tc := range []struct {
		name string
		f    interface{}
		want bool
	}{{"/dev/null", null, false}, {"a pty", tty, true}, {"a buffer", &strings.Builder{}, false}} {
		if got := isTerminal(tc.f); got != tc.want {
			t.Errorf("isTerminal(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
