package imagetest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Applets are the busybox applets the images link.
var Applets = []string{"sh", "sleep", "ping", "ip", "cat", "ls", "id", "echo", "touch", "rm", "stat", "test", "true", "wget"}

// Entry is one file of a layer: a regular file (Body), a directory
// (Dir), or a symlink (Link).
type Entry struct {
	Name string
	Body string
	Mode int64
	Dir  bool
	Link string
	UID  int
	GID  int
}

// Layer makes a layer of the entries.
func Layer(t testing.TB, entries ...Entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, Uid: e.UID, Gid: e.GID}
		switch {
		case e.Dir:
			h.Typeflag = tar.TypeDir
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		case e.Link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.Link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Body))
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, e.Body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// BaseEntries is a busybox root: /bin/busybox, its applets, /etc/passwd
// and /etc/group with root and frr (uid 92, gid 85), /tmp, and two things
// a second layer may white out: /etc/old and /opt/gone/x.
func BaseEntries(t testing.TB) []Entry {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox-static is needed: ", err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	es := []Entry{{Name: "bin/", Dir: true}, {Name: "bin/busybox", Body: string(data), Mode: 0o755},
		{Name: "etc/", Dir: true},
		{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\nfrr:x:92:85:frr:/var/run/frr:/bin/false\n"},
		{Name: "etc/group", Body: "root:x:0:\nfrrvty:x:86:frr\nfrr:x:85:\n"},
		{Name: "etc/old", Body: "old\n"},
		{Name: "opt/", Dir: true}, {Name: "opt/gone/", Dir: true}, {Name: "opt/gone/x", Body: "x\n"},
		{Name: "tmp/", Dir: true, Mode: 0o1777}, {Name: "work/", Dir: true}}
	for _, a := range Applets {
		es = append(es, Entry{Name: "bin/" + a, Link: "busybox"})
	}
	return es
}

// Image makes an image of the layers with a configuration like a real
// one's: Entrypoint, Cmd, Env, WorkingDir.
func Image(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Env == nil {
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Busybox is a one-layer busybox image that sleeps.
func Busybox(t testing.TB) v1.Image {
	return Image(t, v1.Config{Cmd: []string{"sleep", "3600"}}, Layer(t, BaseEntries(t)...))
}

// Whiteout is a second layer that removes /etc/old, makes /opt/gone
// opaque (x goes, new comes) and adds /etc/added.
func Whiteout(t testing.TB) v1.Layer {
	return Layer(t, Entry{Name: "etc/", Dir: true}, Entry{Name: "etc/.wh.old", Body: ""}, Entry{Name: "etc/added", Body: "added\n"},
		Entry{Name: "opt/", Dir: true}, Entry{Name: "opt/gone/", Dir: true}, Entry{Name: "opt/gone/.wh..wh..opq", Body: ""},
		Entry{Name: "opt/gone/new", Body: "new\n"})
}
