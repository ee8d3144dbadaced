package container

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/labform/labform/planner"
	"github.com/labform/labform/providers/container/image"
	"github.com/labform/labform/providers/container/image/imagetest"
	"golang.org/x/sys/unix"
)

// benchImage is busybox plus two layers of 16 MiB of incompressible files
// each (256 files of 64 KiB): an image of a router's size.
func benchImage(b *testing.B) v1.Image {
	rnd := rand.New(rand.NewSource(1))
	layers := []v1.Layer{imagetest.Layer(b, imagetest.BaseEntries(b)...)}
	for l := 0; l < 2; l++ {
		es := []imagetest.Entry{{Name: "usr/", Dir: true}, {Name: fmt.Sprintf("usr/l%d/", l), Dir: true}}
		for i := 0; i < 256; i++ {
			buf := make([]byte, 64<<10)
			rnd.Read(buf)
			es = append(es, imagetest.Entry{Name: fmt.Sprintf("usr/l%d/f%03d", l, i), Body: string(buf)})
		}
		layers = append(layers, imagetest.Layer(b, es...))
	}
	return imagetest.Image(b, v1.Config{Cmd: []string{"sleep", "3600"}}, layers...)
}

// BenchmarkImageUse measures a container image's first use (resolve,
// fetch from the in-process registry, unpack into the store, overlay,
// runc run) and each further container on it (overlay and runc run
// only), as whole applies of one container, and sets them against their
// floors: `tar -xzf` of the same layers into one directory, one overlay
// mount, and one `runc run -d` of a bundle on a plain directory.
func BenchmarkImageUse(b *testing.B) {
	requireTools(b, "runc", "busybox", "tar")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := newImageLab(b)
		img := benchImage(b)
		l.push("lab/big:v1", img)
		tarFloor := tarFloor(b, img)
		runFloor := runcFloor(b, 1)
		l.write(`
container "a" {
  image = "REGISTRY/lab/big:v1"
}
`)
		p, plan := l.Plan(planner.NormalMode)
		b.StartTimer()
		start := time.Now()
		res, diags := p.Apply(context.Background(), plan, planner.ApplyOptions{})
		first := time.Since(start)
		b.StopTimer()
		if diags.HasErrors() || res.Err() != nil {
			b.Fatal(diags, res.Err())
		}
		l.write(`
container "a" {
  image = "REGISTRY/lab/big:v1"
}
container "b" {
  image = "REGISTRY/lab/big:v1"
}
`)
		p, plan = l.Plan(planner.NormalMode)
		start = time.Now()
		res, diags = p.Apply(context.Background(), plan, planner.ApplyOptions{})
		second := time.Since(start)
		if diags.HasErrors() || res.Err() != nil {
			b.Fatal(diags, res.Err())
		}
		// The store's part alone, into a fresh store, and one overlay mount.
		ref, _ := image.Parse(l.host+"/lab/big:v1", "")
		d, _ := img.Digest()
		start = time.Now()
		u, err := image.Store{Dir: b.TempDir()}.Ensure(context.Background(), ref, d.String(), nil)
		ensure := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		ov := b.TempDir()
		for _, s := range []string{"upper", "work", "merged"} {
			os.Mkdir(filepath.Join(ov, s), 0o755)
		}
		start = time.Now()
		if err := unix.Mount("overlay", filepath.Join(ov, "merged"), "overlay", 0,
			fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", u.Rootfs, ov, ov)); err != nil {
			b.Fatal(err)
		}
		mount := time.Since(start)
		unix.Unmount(filepath.Join(ov, "merged"), unix.MNT_DETACH)
		b.ReportMetric(first.Seconds(), "first-use-apply-s")
		b.ReportMetric(second.Seconds(), "next-container-apply-s")
		b.ReportMetric(ensure.Seconds(), "fetch-unpack-s")
		b.ReportMetric(tarFloor.Seconds(), "tar-xz-floor-s")
		b.ReportMetric(runFloor.Seconds(), "runc-run-floor-s")
		b.ReportMetric(float64(mount.Microseconds())/1000, "overlay-mount-ms")
		l.Apply(planner.DestroyMode)
	}
}

// tarFloor writes the image's compressed layers to files and times
// `tar -xzf` of each, in order, into one directory.
func tarFloor(b *testing.B, img v1.Image) time.Duration {
	dir := b.TempDir()
	layers, _ := img.Layers()
	var files []string
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			b.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
		w, _ := os.Create(f)
		io.Copy(w, rc)
		w.Close()
		rc.Close()
		files = append(files, f)
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	start := time.Now()
	for _, f := range files {
		if o, err := exec.Command("tar", "-xzf", f, "-C", out).CombinedOutput(); err != nil {
			b.Fatal(err, string(o))
		}
	}
	return time.Since(start)
}
