package container

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/labform/labform/config"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/container/image/imagetest"
	"github.com/zclconf/go-cty/cty"
)

// imageLab is a sysLab with an in-process registry and an image store of
// its own.
type imageLab struct {
	*sysLab
	host          string // the registry's host:port
	store         string
	closeRegistry func()
}

func newImageLab(t testing.TB) *imageLab {
	requireTools(t, "runc", "busybox", "tar")
	l := &imageLab{sysLab: newSysLab(t), store: t.TempDir()}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	l.host, l.closeRegistry = strings.TrimPrefix(srv.URL, "http://"), srv.Close
	return l
}

func (l *imageLab) push(repoTag string, img v1.Image) string {
	l.T.Helper()
	r, err := name.ParseReference(l.host + "/" + repoTag)
	if err != nil {
		l.T.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		l.T.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// write writes the lab with the provider block pointing at the test's store.
func (l *imageLab) write(src string) {
	l.Write(`provider "container" {
  image_store = "` + l.store + `"
}
` + strings.ReplaceAll(src, "REGISTRY", l.host))
}

func changeOf(p *planner.Plan, addr string) *planner.Change {
	for _, c := range p.Changes {
		if c.Addr.String() == addr {
			return c
		}
	}
	return nil
}

// frrLike is an image configured as a router image is: a Cmd, Env, a
// WorkingDir and a User; the command writes what it was given.
func frrLike(t *testing.T) v1.Image {
	return imagetest.Image(t, v1.Config{
		Cmd:        []string{"sh", "-c", `echo "$FOO $BAR $(pwd) $(id -u):$(id -g)" > /tmp/started; exec sleep 3600`},
		Env:        []string{"PATH=/bin", "FOO=image", "BAR=image"},
		WorkingDir: "/work",
		User:       "frr",
	}, imagetest.Layer(t, imagetest.BaseEntries(t)...))
}

const twoFromOneImage = `
container "a" {
  image = "REGISTRY/lab/frr:v1"
  env   = { FOO = "lab" }
}
container "b" {
  image = "REGISTRY/lab/frr:v1"
}
`

// TestSystem_imageContainers: two containers from one image share the
// unpacked image and each sees only its own writes; the image's
// configuration supplies the command, env, working directory and user; a
// restart keeps a container's writes, a replacement drops them, destroy
// removes them.
func TestSystem_imageContainers(t *testing.T) {
	l := newImageLab(t)
	digest := l.push("lab/frr:v1", frrLike(t))
	l.write(twoFromOneImage)
	_, plan := l.Plan(planner.NormalMode)
	for _, a := range []string{"container.a", "container.b"} {
		c := changeOf(plan, a)
		if c == nil || c.After.GetAttr("image_digest").AsString() != digest {
			t.Fatalf("the plan's %s: %v; want image_digest %s", a, c, digest)
		}
	}
	l.Apply(planner.NormalMode)
	for addr, want := range map[string]string{"container.a": "lab image /work 92:85", "container.b": "image image /work 92:85"} {
		out, err := l.exec(addr, "cat", "/tmp/started")
		if err != nil || strings.TrimSpace(out) != want {
			t.Fatalf("%s: /tmp/started = %q, %v; want %q (Env under the lab's env, WorkingDir, User from the image)", addr, out, err, want)
		}
	}
	lowers := map[string]bool{}
	for _, a := range []string{"container.a", "container.b"} {
		b, err := os.ReadFile(filepath.Join(l.prov.bundle(nameFor(l.ID(a))), "lower"))
		if err != nil {
			t.Fatal(err)
		}
		lowers[string(b)] = true
	}
	h, _ := v1.NewHash(digest)
	shared := filepath.Join(l.store, "sha256", h.Hex, "rootfs")
	if len(lowers) != 1 || !lowers[shared] {
		t.Fatalf("lower directories %v; want both on %s", lowers, shared)
	}
	if out, err := l.exec("container.a", "touch", "/tmp/a-was-here"); err != nil {
		t.Fatal(out, err)
	}
	if _, err := l.exec("container.b", "test", "-e", "/tmp/a-was-here"); err == nil {
		t.Fatal("container b sees container a's write")
	}
	if _, err := os.Stat(filepath.Join(shared, "tmp/a-was-here")); err == nil {
		t.Fatal("a container's write reached the image in the store")
	}
	// A restart (stopped, then running) keeps the writes.
	l.write(strings.Replace(twoFromOneImage, `env   = { FOO = "lab" }`, `env   = { FOO = "lab" }
  state = "stopped"`, 1))
	l.Apply(planner.NormalMode)
	l.write(twoFromOneImage)
	l.Apply(planner.NormalMode)
	if out, err := l.exec("container.a", "test", "-e", "/tmp/a-was-here"); err != nil {
		t.Fatalf("after a restart the write is gone: %s %v", out, err)
	}
	// A replacement starts clean.
	l.ApplyReplacing(planner.NormalMode, "container.a")
	if _, err := l.exec("container.a", "test", "-e", "/tmp/a-was-here"); err == nil {
		t.Fatal("after a replacement the old write is still there")
	}
	bundle := l.prov.bundle(nameFor(l.ID("container.a")))
	l.Write("")
	l.Apply(planner.NormalMode)
	if _, err := os.Stat(bundle); err == nil {
		t.Fatalf("destroy left %s", bundle)
	}
	if isOverlay(filepath.Join(bundle, "rootfs")) {
		t.Fatal("destroy left the overlay mounted")
	}
	if _, err := os.Stat(shared); err != nil {
		t.Fatalf("the store lost the image: %v", err)
	}
}

// TestSystem_imageTagMoves: a tag pushed again plans a replacement that
// says why; with -refresh=false the digest in state stands.
func TestSystem_imageTagMoves(t *testing.T) {
	l := newImageLab(t)
	d1 := l.push("lab/bb:latest", imagetest.Busybox(t))
	l.write(`
container "a" {
  image = "REGISTRY/lab/bb:latest"
}
`)
	l.Apply(planner.NormalMode)
	two := imagetest.Image(t, v1.Config{Cmd: []string{"sleep", "7200"}}, imagetest.Layer(t, imagetest.BaseEntries(t)...))
	d2 := l.push("lab/bb:latest", two)
	_, plan := l.Plan(planner.NormalMode)
	c := changeOf(plan, "container.a")
	if c == nil || c.Action != planner.DeleteThenCreate || !strings.Contains(c.Reason, "now names "+d2) || c.After.GetAttr("image_digest").AsString() != d2 {
		t.Fatalf("plan after the tag moved: %+v; want a replacement to %s saying why", c, d2)
	}
	lab, diags := config.Load(l.Dir, l.Reg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := &planner.Planner{Registry: l.Reg, Store: l.Store, Lab: lab, Inputs: config.NewInputs()}
	plan, diags = p.Plan(context.Background(), planner.PlanOptions{Mode: planner.NormalMode, Refresh: false})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c := changeOf(plan, "container.a"); c == nil || c.Action != planner.NoOp || c.After.GetAttr("image_digest").AsString() != d1 {
		t.Fatalf("with -refresh=false: %+v; want no change, digest %s", c, d1)
	}
	l.Apply(planner.NormalMode)
	if out, err := l.exec("container.a", "cat", "/proc/1/cmdline"); err != nil || !strings.Contains(out, "7200") {
		t.Fatalf("after the replacement pid 1 runs %q, %v; want the new image's sleep 7200", out, err)
	}
}

// TestSystem_prefetch: init's prefetch fetches each image once, with
// plain progress lines off a terminal and a redrawn line on one, and says
// when an image is already in the store.
func TestSystem_prefetch(t *testing.T) {
	l := newImageLab(t)
	digest := l.push("lab/frr:v1", frrLike(t))
	l.write(twoFromOneImage)
	lab, diags := config.Load(l.Dir, l.Reg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d, diags := config.Evaluate(lab, config.NewInputs(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	req := providers.PrefetchRequest{Values: map[string]cty.Value{}, Types: map[string]string{}}
	for _, a := range d.Order {
		req.Values[a.String()], req.Types[a.String()] = d.Instances[a].Value, a.Type
	}
	p := New()
	if err := p.Configure(context.Background(), providers.ConfigureRequest{Lab: providers.Lab{Dir: l.Dir}, Config: d.Providers["container"]}); err != nil {
		t.Fatal(err)
	}
	ref := l.host + "/lab/frr:v1"
	for _, tc := range []struct {
		terminal bool
		want     []string
	}{
		{false, []string{"- " + ref + ": fetching " + digest + "\n", "- " + ref + ": " + digest + ", fetched and unpacked in "}},
		{false, []string{"- " + ref + ": " + digest + ", already in the store\n"}},
		{true, []string{"\r\x1b[K- " + ref + ": " + digest + ", fetched and unpacked in ", " of "}},
	} {
		if tc.terminal {
			os.RemoveAll(l.store)
		}
		var out strings.Builder
		req.Out, req.Terminal = &out, tc.terminal
		if err := p.Prefetch(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("terminal %v: output %q lacks %q", tc.terminal, out.String(), w)
			}
		}
		if n := strings.Count(out.String(), "- "+ref+": "+digest+","); n != 1 {
			t.Errorf("the image is reported %d times; two containers use it, it is fetched once", n)
		}
	}
}

// TestSystem_imageBadInput: an unknown image is a plan diagnostic on the
// image line; a registry gone between plan and apply fails the create
// naming the image, and the state, the store and the lab's directory
// keep nothing of it.
func TestSystem_imageBadInput(t *testing.T) {
	l := newImageLab(t)
	l.write(`
container "a" {
  image = "REGISTRY/lab/nope:v1"
}
`)
	_, _, err := tryPlan(l.sysLab, planner.NormalMode)
	if err == nil || !strings.Contains(err.Error(), "main.lab.hcl:9,") || !strings.Contains(err.Error(), "Cannot resolve the image") || !strings.Contains(err.Error(), "lab/nope:v1") {
		t.Fatalf("plan of an unknown image: %v; want a diagnostic on the image line naming it", err)
	}
	l.push("lab/bb:v1", imagetest.Busybox(t))
	l.write(`
container "a" {
  image = "REGISTRY/lab/bb:v1"
}
`)
	p, plan, err := tryPlan(l.sysLab, planner.NormalMode)
	if err != nil {
		t.Fatal(err)
	}
	l.closeRegistry()
	res, _ := p.Apply(context.Background(), plan, planner.ApplyOptions{})
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), l.host+"/lab/bb:v1") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("apply with the registry gone: %v; want an error naming the image and what failed", err)
	}
	if rec, err := l.Store.Get("container.a"); err != nil || rec != nil {
		t.Fatalf("the state holds %+v, %v after a failed fetch; want nothing", rec, err)
	}
	es, _ := os.ReadDir(filepath.Join(l.store, "sha256"))
	tmp, _ := os.ReadDir(filepath.Join(l.store, "tmp"))
	bundles, _ := filepath.Glob(filepath.Join(l.prov.lab.WorkDir, "lf-*"))
	if len(es)+len(tmp)+len(bundles) > 0 {
		t.Fatalf("a failed fetch left %d images, %d temporary directories, bundles %v", len(es), len(tmp), bundles)
	}
}
