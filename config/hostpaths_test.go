package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers/all"
	"github.com/zclconf/go-cty/cty"
)

// TestHostPaths: a path is judged by where it leads, symbolic links
// resolved, and allow_host_paths = true lets a lab use the host's files.
func TestHostPaths(t *testing.T) {
	root := t.TempDir()
	lab := filepath.Join(root, "lab")
	for _, d := range []string{"lab/rootfs", "lab/images", "outside"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"lab/etc":       "/etc",
		"lab/out":       "../outside",
		"lab/inside":    "rootfs",
		"lab-link":      "lab",
		"lab/loop":      "loop",
		"lab/image.iso": "/dev/zero",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, lab, body string
		refused         bool
	}{
		{"inside", "lab", `rootfs = "rootfs"`, false},
		{"inside, absolute", "lab", `rootfs = "${path.module}/rootfs"`, false},
		{"not there yet", "lab", `rootfs = "images/new/rootfs"`, false},
		{"link within the lab", "lab", `rootfs = "inside"`, false},
		{"lab dir through a link", "lab-link", `rootfs = "rootfs"`, false},
		{"link to /etc", "lab", `rootfs = "etc"`, true},
		{"below a link to /etc", "lab", `rootfs = "etc/new/dir"`, true},
		{"link to a sibling", "lab", `rootfs = "out"`, true},
		{"dot-dot", "lab", `rootfs = "rootfs/../../outside"`, true},
		{"dot-dot through a linked lab dir", "lab-link", `rootfs = "../outside"`, true},
		{"absolute", "lab", `rootfs = "/srv"`, true},
		{"loop", "lab", `rootfs = "loop"`, false},
		{"bind source", "lab", "rootfs = \"rootfs\"\n  mount {\n    source = \"/var/run/docker.sock\"\n    destination = \"/s\"\n  }", true},
	}
	for _, c := range cases {
		for _, allow := range []bool{false, true} {
			name := c.name
			if allow {
				name += ", allowed"
			}
			t.Run(name, func(t *testing.T) {
				src := "container \"c\" {\n  " + c.body + "\n}\n"
				if allow {
					src = "lab {\n  allow_host_paths = true\n}\n" + src
				}
				dir := filepath.Join(root, c.lab)
				file := filepath.Join(dir, "main.lab.hcl")
				l := config.NewLab(dir, all.Registry())
				diags := l.AddFile(file, []byte(src))
				diags = append(diags, l.Check()...)
				if diags.HasErrors() {
					t.Fatal(diags.Error())
				}
				_, diags = config.Evaluate(l, config.NewInputs(), nil)
				refused := diags.HasErrors()
				if refused != (c.refused && !allow) {
					t.Fatalf("refused = %v, want %v: %v", refused, c.refused && !allow, diags)
				}
				if refused {
					d := diags[0]
					if d.Summary != "Path outside the lab directory" || d.Subject == nil || d.Subject.Filename != file ||
						!strings.Contains(d.Detail, "allow_host_paths = true") {
						t.Errorf("wrong diagnostic: %s (%v)", d.Error(), d.Subject)
					}
				}
			})
		}
	}
	// Links that lead outside are named with where they lead.
	l := config.NewLab(lab, all.Registry())
	l.AddFile(filepath.Join(lab, "x.lab.hcl"), []byte("container \"c\" {\n  rootfs = \"etc\"\n}\n"))
	_, diags := config.Evaluate(l, config.NewInputs(), nil)
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "which leads to /etc") {
		t.Errorf("the diagnostic should say where the link leads: %v", diags)
	}
}

// TestHostPathsKnownAtApply: a path known only once what it refers to is
// applied is checked when apply evaluates the instance again.
func TestHostPathsKnownAtApply(t *testing.T) {
	dir := t.TempDir()
	l := config.NewLab(dir, all.Registry())
	diags := l.AddFile(filepath.Join(dir, "main.lab.hcl"), []byte(`
container "a" {
  rootfs = "rootfs"
}
container "b" {
  rootfs = "rootfs"
  mount {
    source      = container.a.netns
    destination = "/ns"
  }
}
`))
	diags = append(diags, l.Check()...)
	d, more := config.Evaluate(l, config.NewInputs(), nil)
	if diags = append(diags, more...); diags.HasErrors() {
		t.Fatalf("an unknown path is checked at apply, not refused at plan: %v", diags)
	}
	a, _ := addr.ParseInstance("container.a")
	b, _ := addr.ParseInstance("container.b")
	_, diags = d.EvalInstance(b, func(i addr.Instance) (cty.Value, bool) {
		if i != a {
			return cty.NilVal, false
		}
		v := d.Instances[a].Value.AsValueMap()
		v["netns"] = cty.StringVal("/var/run/netns/lfc-x")
		return cty.ObjectVal(v), true
	})
	if !diags.HasErrors() || diags[0].Summary != "Path outside the lab directory" {
		t.Fatalf("want the path refused at apply, got %v", diags)
	}
}
