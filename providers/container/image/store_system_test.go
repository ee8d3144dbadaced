package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers/container/image/imagetest"
	"golang.org/x/sys/unix"
)

// testRegistry serves go-containerregistry's in-process registry; it
// returns the registry's host:port.
func testRegistry(t *testing.T) (string, *httptest.Server) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), srv
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func writeLayout(t *testing.T, dir, tag string, img v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: tag})); err != nil {
		t.Fatal(err)
	}
}

func digestOf(t *testing.T, img v1.Image) string {
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func storeEmpty(t *testing.T, s Store) {
	t.Helper()
	for _, d := range []string{"sha256", "tmp"} {
		es, _ := os.ReadDir(filepath.Join(s.Dir, d))
		if len(es) > 0 {
			t.Errorf("the store's %s holds %d entries after a failed fetch; want none", d, len(es))
		}
	}
}

// TestSystem_transports fetches one busybox image through each transport
// and checks what the store unpacked.
func TestSystem_transports(t *testing.T) {
	systest.Require(t, "busybox", "tar")
	img := imagetest.Busybox(t)
	host, _ := testRegistry(t)
	push(t, host+"/lab/bb:v1", img)
	dir := t.TempDir()
	writeLayout(t, filepath.Join(dir, "layout"), "v1", img)
	if out, err := exec.Command("tar", "-c", "-f", filepath.Join(dir, "bb.oci.tar"), "-C", filepath.Join(dir, "layout"), ".").CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	tag, _ := name.NewTag("lab/bb:v1")
	if err := tarball.WriteToFile(filepath.Join(dir, "bb.docker.tar"), tag, img); err != nil {
		t.Fatal(err)
	}
	cfgName, _ := img.ConfigName()
	for _, tc := range []struct {
		ref, digest string
	}{
		{host + "/lab/bb:v1", digestOf(t, img)},
		{host + "/lab/bb@" + digestOf(t, img), digestOf(t, img)},
		{"oci:layout:v1", digestOf(t, img)},
		{"oci:layout", digestOf(t, img)},
		{"oci-archive:bb.oci.tar:v1", digestOf(t, img)},
		{"docker-archive:bb.docker.tar", cfgName.String()},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			ref, err := Parse(tc.ref, dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Resolve(context.Background(), ref)
			if err != nil || got != tc.digest {
				t.Fatalf("Resolve(%s) = %s, %v; want %s", tc.ref, got, err, tc.digest)
			}
			s := Store{Dir: t.TempDir()}
			var last, total int64
			u, err := s.Ensure(context.Background(), ref, got, func(d, tot int64) { last, total = d, tot })
			if err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(filepath.Join(u.Rootfs, "bin/busybox")); err != nil || st.Mode().Perm() != 0o755 {
				t.Fatalf("bin/busybox in the unpacked image: %v, %v", st, err)
			}
			if l, err := os.Readlink(filepath.Join(u.Rootfs, "bin/sh")); err != nil || l != "busybox" {
				t.Fatalf("bin/sh: %q, %v", l, err)
			}
			if st, _ := os.Stat(filepath.Join(u.Rootfs, "tmp")); st == nil || st.Mode()&os.ModeSticky == 0 {
				t.Fatalf("tmp lost its sticky bit: %v", st)
			}
			if strings.Join(u.Config.Config.Cmd, " ") != "sleep 3600" {
				t.Fatalf("config Cmd = %q", u.Config.Config.Cmd)
			}
			if last == 0 || (total != 0 && last != total) {
				t.Fatalf("progress ended at %d of %d", last, total)
			}
			if tc.ref == "oci:layout" {
				// A fetch killed midway left its temporary directory: the
				// next fetch of the image removes it.
				h, _ := v1.NewHash(got)
				os.RemoveAll(u.Dir)
				left := filepath.Join(s.Dir, "tmp", h.Hex+"-killed")
				os.MkdirAll(filepath.Join(left, "rootfs"), 0o755)
				if _, err := s.Ensure(context.Background(), ref, got, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(left); err == nil {
					t.Fatal("a killed fetch's temporary directory outlived the next fetch")
				}
			}
			again, ok := s.Lookup(got)
			if !ok || again.Rootfs != u.Rootfs {
				t.Fatalf("Lookup after Ensure: %v %v", again, ok)
			}
			storeEmptyTmp(t, s)
		})
	}
}

func storeEmptyTmp(t *testing.T, s Store) {
	t.Helper()
	es, _ := os.ReadDir(filepath.Join(s.Dir, "tmp"))
	if len(es) > 0 {
		t.Fatalf("the store's tmp holds %d entries after a fetch", len(es))
	}
}

// TestSystem_whiteouts: a second layer's whiteout removes a file, and an
// opaque directory hides what the first layer had in it.
func TestSystem_whiteouts(t *testing.T) {
	systest.Require(t, "busybox", "tar")
	img := imagetest.Image(t, v1.Config{Cmd: []string{"sh"}}, imagetest.Layer(t, imagetest.BaseEntries(t)...), imagetest.Whiteout(t))
	dir := t.TempDir()
	writeLayout(t, filepath.Join(dir, "layout"), "v2", img)
	ref, _ := Parse("oci:layout:v2", dir)
	s := Store{Dir: t.TempDir()}
	u, err := s.Ensure(context.Background(), ref, digestOf(t, img), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"etc/old", false}, {"etc/.wh.old", false}, {"etc/added", true}, {"etc/passwd", true},
		{"opt/gone/x", false}, {"opt/gone/new", true}, {"opt/gone/.wh..wh..opq", false},
	} {
		_, err := os.Lstat(filepath.Join(u.Rootfs, tc.path))
		if (err == nil) != tc.want {
			t.Errorf("%s exists: %v, want %v", tc.path, err == nil, tc.want)
		}
	}
}

// TestSystem_tagMoves: a tag pushed again names a new digest.
func TestSystem_tagMoves(t *testing.T) {
	systest.Require(t, "busybox")
	host, _ := testRegistry(t)
	one := imagetest.Busybox(t)
	two := imagetest.Image(t, v1.Config{Cmd: []string{"sleep", "7200"}}, imagetest.Layer(t, imagetest.BaseEntries(t)...))
	push(t, host+"/lab/bb:latest", one)
	ref, _ := Parse(host+"/lab/bb:latest", "")
	d1, err := Resolve(context.Background(), ref)
	if err != nil || d1 != digestOf(t, one) {
		t.Fatalf("first resolve: %s, %v", d1, err)
	}
	push(t, host+"/lab/bb:latest", two)
	d2, err := Resolve(context.Background(), ref)
	if err != nil || d2 != digestOf(t, two) || d2 == d1 {
		t.Fatalf("after the push: %s, %v; want %s", d2, err, digestOf(t, two))
	}
}

// TestSystem_badInput: each failure names the image and what failed, and
// leaves nothing in the store.
func TestSystem_badInput(t *testing.T) {
	systest.Require(t, "busybox", "tar")
	img := imagetest.Busybox(t)
	host, srv := testRegistry(t)
	push(t, host+"/lab/bb:v1", img)
	dir := t.TempDir()
	writeLayout(t, filepath.Join(dir, "layout"), "v1", img)
	// Corrupt the layer blob (same size, other bytes).
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	blob := filepath.Join(dir, "layout", "blobs", "sha256", ld.Hex)
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	data[len(data)/2+1] ^= 0xff
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("corrupt blob", func(t *testing.T) {
		s := Store{Dir: t.TempDir()}
		ref, _ := Parse("oci:layout:v1", dir)
		_, err := s.Ensure(context.Background(), ref, digestOf(t, img), nil)
		if err == nil || !strings.Contains(err.Error(), "oci:layout:v1") || !strings.Contains(err.Error(), "blob "+ld.String()+" is corrupt: its content has digest sha256:") {
			t.Fatalf("err = %v; want one naming the image and the corrupt blob", err)
		}
		t.Log(err)
		storeEmpty(t, s)
	})
	t.Run("blob replaced", func(t *testing.T) {
		// A well-formed blob of other content: only its digest tells.
		dir := t.TempDir()
		writeLayout(t, filepath.Join(dir, "layout"), "v1", img)
		other, _ := imagetest.Whiteout(t).Compressed()
		data, _ := io.ReadAll(other)
		if err := os.WriteFile(filepath.Join(dir, "layout", "blobs", "sha256", ld.Hex), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s := Store{Dir: t.TempDir()}
		ref, _ := Parse("oci:layout:v1", dir)
		_, err := s.Ensure(context.Background(), ref, digestOf(t, img), nil)
		if err == nil || !strings.Contains(err.Error(), "oci:layout:v1") || !strings.Contains(err.Error(), "blob "+ld.String()+" is corrupt: its content has digest sha256:") {
			t.Fatalf("err = %v; want one naming the image and the blob whose digest does not match", err)
		}
		storeEmpty(t, s)
	})
	t.Run("unknown tag", func(t *testing.T) {
		ref, _ := Parse(host+"/lab/bb:nope", "")
		if _, err := Resolve(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "lab/bb:nope") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown layout tag", func(t *testing.T) {
		ref, _ := Parse("oci:layout:v9", dir)
		if _, err := Resolve(context.Background(), ref); err == nil || !strings.Contains(err.Error(), `no image tagged "v9" (tags: v1)`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unreachable registry", func(t *testing.T) {
		ref, _ := Parse(host+"/lab/bb:v1", "")
		srv.Close()
		s := Store{Dir: t.TempDir()}
		_, err := s.Ensure(context.Background(), ref, digestOf(t, img), nil)
		if err == nil || !strings.Contains(err.Error(), host) {
			t.Fatalf("err = %v", err)
		}
		t.Log(err)
		storeEmpty(t, s)
	})
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, transport, name, tag, err string
	}{
		{in: "frrouting/frr:v8.4.1", transport: "docker", name: "frrouting/frr:v8.4.1"},
		{in: "docker://alpine", transport: "docker", name: "alpine"},
		{in: "ghcr.io/org/img@sha256:" + strings.Repeat("a", 64), transport: "docker", name: "ghcr.io/org/img@sha256:" + strings.Repeat("a", 64)},
		{in: "oci:images/frr:v8", transport: "oci", name: "/lab/images/frr", tag: "v8"},
		{in: "oci:/abs/dir", transport: "oci", name: "/abs/dir"},
		{in: "oci-archive:frr.tar:v8", transport: "oci-archive", name: "/lab/frr.tar", tag: "v8"},
		{in: "docker-archive:frr.tar", transport: "docker-archive", name: "/lab/frr.tar"},
		{in: "docker-archive:frr.tar:frr:v8", err: "not supported"},
		{in: "containers-storage:frr", err: "not supported"},
		{in: "Not A Ref", err: "is not an image reference"},
		{in: "oci:", err: "names no path"},
	} {
		r, err := Parse(tc.in, "/lab")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(r.Transport) != tc.transport || r.Name != tc.name || r.Tag != tc.tag {
			t.Errorf("Parse(%q) = %+v, %v", tc.in, r, err)
		}
	}
}

// TestSystem_fullDisk: a store on a filesystem too small for the image
// fails naming the image and the lack of space, and keeps nothing.
func TestSystem_fullDisk(t *testing.T) {
	systest.Require(t, "busybox", "tar")
	img := imagetest.Busybox(t)
	dir := t.TempDir()
	writeLayout(t, filepath.Join(dir, "layout"), "v1", img)
	s := Store{Dir: t.TempDir()}
	if err := unix.Mount("tmpfs", s.Dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mounting a small tmpfs for the store: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(s.Dir, unix.MNT_DETACH) })
	ref, _ := Parse("oci:layout:v1", dir)
	_, err := s.Ensure(context.Background(), ref, digestOf(t, img), nil)
	if err == nil || !strings.Contains(err.Error(), "oci:layout:v1") || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("err = %v; want one naming the image and the full disk", err)
	}
	t.Log(err)
	storeEmpty(t, s)
}

// TestSystem_readOnlyStore: a store that cannot be written fails a fetch
// with an error naming the store and what to do; an image it already
// holds is used as it is (a read-only store filled beforehand).
func TestSystem_readOnlyStore(t *testing.T) {
	systest.Require(t, "busybox", "tar")
	img := imagetest.Busybox(t)
	dir := t.TempDir()
	writeLayout(t, filepath.Join(dir, "layout"), "v1", img)
	ref, _ := Parse("oci:layout:v1", dir)
	for _, tc := range []struct {
		name   string
		filled bool
		err    string
	}{
		{"empty", false, "read-only file system (labform unpacks images there: make it writable"},
		{"holding the image", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Store{Dir: t.TempDir()}
			if err := unix.Mount("tmpfs", s.Dir, "tmpfs", 0, "size=8m"); err != nil {
				t.Fatalf("mounting a tmpfs for the store: %v", err)
			}
			t.Cleanup(func() { unix.Unmount(s.Dir, unix.MNT_DETACH) })
			if tc.filled {
				if _, err := s.Ensure(context.Background(), ref, digestOf(t, img), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := unix.Mount("", s.Dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				t.Fatalf("remounting the store read-only: %v", err)
			}
			u, err := s.Ensure(context.Background(), ref, digestOf(t, img), nil)
			if tc.err == "" {
				if err != nil || u.Digest != digestOf(t, img) {
					t.Fatalf("Ensure from a read-only store holding the image: %+v, %v", u, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "oci:layout:v1") || !strings.Contains(err.Error(), "the image store "+s.Dir) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v; want one naming the image, the store and %q", err, tc.err)
			}
		})
	}
}

// TestSystem_killedFetchLeftovers: what a fetch killed with -9 left under
// tmp/ goes at the next fetch when no process holds that image's lock;
// a fetch in progress elsewhere (its lock held) keeps its directory.
func TestSystem_killedFetchLeftovers(t *testing.T) {
	systest.Require(t, "busybox", "tar")
	img := imagetest.Busybox(t)
	dir := t.TempDir()
	writeLayout(t, filepath.Join(dir, "layout"), "v1", img)
	ref, _ := Parse("oci:layout:v1", dir)
	s := Store{Dir: t.TempDir()}
	own := strings.TrimPrefix(digestOf(t, img), "sha256:")
	killed, running, foreign := strings.Repeat("a", 64), strings.Repeat("b", 64), "notadigest"
	for _, h := range []string{own, killed, running} {
		os.MkdirAll(filepath.Join(s.Dir, "tmp", h+"-123", "rootfs", "half"), 0o755)
		os.MkdirAll(filepath.Join(s.Dir, "locks"), 0o700)
		os.WriteFile(filepath.Join(s.Dir, "locks", "sha256-"+h), nil, 0o600)
	}
	os.MkdirAll(filepath.Join(s.Dir, "tmp", foreign+"-1"), 0o755)
	held, err := os.Open(filepath.Join(s.Dir, "locks", "sha256-"+running))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := unix.Flock(int(held.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ensure(context.Background(), ref, digestOf(t, img), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kept bool
	}{{own + "-123", false}, {killed + "-123", false}, {running + "-123", true}, {foreign + "-1", true}} {
		_, err := os.Stat(filepath.Join(s.Dir, "tmp", tc.name))
		if kept := err == nil; kept != tc.kept {
			t.Errorf("tmp/%s kept = %v, want %v", tc.name, kept, tc.kept)
		}
	}
}

// TestResolve_truncatedArchives: an archive cut short says so and what to
// do, not only "unexpected EOF".
func TestResolve_truncatedArchives(t *testing.T) {
	systest.Require(t, "busybox")
	img := imagetest.Busybox(t)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.tar")
	tag, _ := name.NewTag("lab/bb:v1")
	if err := tarball.WriteToFile(full, tag, img); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(full)
	for _, tc := range []struct{ name, ref string }{
		{"docker-archive", "docker-archive:cut.tar"},
		{"oci-archive", "oci-archive:cut.tar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(dir, "cut.tar"), data[:len(data)/3], 0o644)
			ref, err := Parse(tc.ref, dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Resolve(context.Background(), ref)
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "cut.tar")) || !strings.Contains(err.Error(), "cut short in a copy or a download; copy or save it again") {
				t.Fatalf("err = %v; want one naming the file and saying it is cut short", err)
			}
		})
	}
}
