package image

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/labform/labform/providers/labnet"
	"golang.org/x/sys/unix"
)

// DefaultStore is where images are kept unless the provider says otherwise.
const DefaultStore = "/var/lib/labform/images"

// Store keeps images unpacked, one directory per digest:
//
//	<dir>/sha256/<hex>/rootfs       the image's filesystem, layers applied
//	<dir>/sha256/<hex>/config.json  the image's configuration
//	<dir>/sha256/<hex>/ref          the reference it was first fetched by
//
// An image is unpacked under <dir>/tmp and renamed into place once
// complete, so the store never holds half an image. Containers never
// write into it: each runs on an overlay whose upper layer is its own.
type Store struct {
	Dir string
}

// Unpacked is an image in the store.
type Unpacked struct {
	Digest string
	Dir    string // <store>/sha256/<hex>
	Rootfs string
	Config v1.ConfigFile
}

// Progress receives how many bytes of an image have been read out of
// total (0 when the total is not known).
type Progress func(done, total int64)

func (s Store) dirFor(digest string) (string, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return "", fmt.Errorf("%q is not a digest: %w", digest, err)
	}
	return filepath.Join(s.Dir, h.Algorithm, h.Hex), nil
}

// Lookup returns the image if the store has it.
func (s Store) Lookup(digest string) (Unpacked, bool) {
	dir, err := s.dirFor(digest)
	if err != nil {
		return Unpacked{}, false
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return Unpacked{}, false
	}
	u := Unpacked{Digest: digest, Dir: dir, Rootfs: filepath.Join(dir, "rootfs")}
	if err := json.Unmarshal(b, &u.Config); err != nil {
		return Unpacked{}, false
	}
	return u, true
}

var inProcess sync.Map // digest -> *sync.Mutex

// Ensure returns the image the digest names, fetching and unpacking it
// from r when the store lacks it. Errors name the image and what failed;
// on any error the store is as it was.
func (s Store) Ensure(ctx context.Context, r Ref, digest string, progress Progress) (Unpacked, error) {
	if u, ok := s.Lookup(digest); ok {
		return u, nil
	}
	final, err := s.dirFor(digest)
	if err != nil {
		return Unpacked{}, fmt.Errorf("image %s: %w", r, err)
	}
	// One fetch per image: within this process a mutex, across processes
	// (two labs applied at once) a lock file.
	mu, _ := inProcess.LoadOrStore(digest, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	unlock, err := s.lock(digest)
	if err != nil {
		return Unpacked{}, fmt.Errorf("image %s: %w", r, err)
	}
	defer unlock()
	if u, ok := s.Lookup(digest); ok {
		return u, nil
	}
	tmpRoot := filepath.Join(s.Dir, "tmp")
	if err := os.MkdirAll(tmpRoot, 0o700); err != nil {
		return Unpacked{}, fmt.Errorf("image %s: %w", r, s.storeErr(err))
	}
	// What fetches killed midway left: of this image (under its lock, no
	// other fetch of it runs), and of any other whose lock is free.
	s.sweepTmp(tmpRoot, filepath.Base(final))
	tmp, err := os.MkdirTemp(tmpRoot, filepath.Base(final)+"-")
	if err != nil {
		return Unpacked{}, fmt.Errorf("image %s: %w", r, s.storeErr(err))
	}
	defer os.RemoveAll(tmp) // gone once renamed; what a failure left otherwise
	if err := s.fetch(ctx, r, digest, tmp, progress); err != nil {
		return Unpacked{}, fmt.Errorf("image %s (%s): %w", r, digest, err)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return Unpacked{}, fmt.Errorf("image %s: %w", r, s.storeErr(err))
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Unpacked{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return Unpacked{}, fmt.Errorf("image %s: moving it into the store: %w", r, err)
	}
	u, ok := s.Lookup(digest)
	if !ok {
		return Unpacked{}, fmt.Errorf("image %s: not readable in the store after unpacking to %s", r, final)
	}
	return u, nil
}

// sweepTmp removes the temporary directories of fetches that were
// killed (kill -9, a power cut): those of hex, whose lock the caller
// holds, and those of other images when no process holds their lock.
func (s Store) sweepTmp(tmpRoot, hex string) {
	entries, _ := os.ReadDir(tmpRoot)
	for _, e := range entries {
		h, _, ok := strings.Cut(e.Name(), "-")
		if !ok {
			continue
		}
		if h == hex {
			os.RemoveAll(filepath.Join(tmpRoot, e.Name()))
			continue
		}
		f, err := os.OpenFile(filepath.Join(s.Dir, "locks", "sha256-"+h), os.O_RDWR, 0)
		if err != nil {
			continue // not a fetch of this store's: leave it
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(filepath.Join(tmpRoot, e.Name()))
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
		}
		f.Close()
	}
}

// storeErr is an error writing the store, with what the user can do.
func (s Store) storeErr(err error) error {
	return fmt.Errorf("the image store %s: %w (labform unpacks images there: make it writable and give it room, or name another directory with image_store in the container provider's block)", s.Dir, err)
}

func (s Store) lock(digest string) (func(), error) {
	dir := filepath.Join(s.Dir, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, s.storeErr(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, strings.ReplaceAll(digest, ":", "-")), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, s.storeErr(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// fetch unpacks the image into tmp/rootfs and writes its configuration.
func (s Store) fetch(ctx context.Context, r Ref, digest, tmp string, progress Progress) error {
	img, local, err := open(ctx, r, digest, filepath.Join(tmp, "archive"))
	if err != nil {
		return err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading its configuration: %w", err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("reading its configuration: %w", err)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	orig := img
	img, err = watched(img, r.Transport, local, progress)
	if err != nil {
		return err
	}
	rootfs := filepath.Join(tmp, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	// The library applies the layers in order, whiteouts and opaque
	// directories included, into one tar stream; tar writes it out with
	// owners, modes, devices and extended attributes as they are.
	if err := untar(ctx, mutate.Extract(img), rootfs); err != nil {
		// A damaged local blob mostly breaks the gzip or tar stream
		// before its end, where its digest would have been checked:
		// name the blob rather than the tar error it caused.
		if local && ctx.Err() == nil {
			if verr := verifyBlobs(orig, r.Transport); verr != nil {
				return verr
			}
		}
		return err
	}
	os.RemoveAll(filepath.Join(tmp, "archive"))
	if err := os.WriteFile(filepath.Join(tmp, "ref"), []byte(r.Given+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(tmp, "config.json"), raw, 0o644)
}

var tarArgs = []string{"-x", "-f", "-", "--numeric-owner", "--same-owner", "--same-permissions", "--xattrs", "--xattrs-include=*"}

// untar writes a tar stream into dir with tar(1). An error reading the
// stream (a blob that does not match its digest, a registry gone) wins
// over what tar says of the stream cut short.
func untar(ctx context.Context, rc io.ReadCloser, dir string) error {
	defer rc.Close()
	in := &readErr{r: rc}
	_, err := labnet.Run(ctx, labnet.Tool{Name: "tar", Args: append(tarArgs, "-C", dir), StdinReader: in, Timeout: unpackTimeout})
	if in.err != nil {
		return in.err
	}
	if err != nil {
		return fmt.Errorf("unpacking the layers: %w", err)
	}
	return nil
}

// unpackTimeout bounds one image's fetch and unpack through tar.
const unpackTimeout = time.Hour

// readErr remembers the error its reader gave, other than EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

func untarFile(ctx context.Context, file, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := labnet.Run(ctx, labnet.Tool{Name: "tar", Args: []string{"-x", "-f", file, "-C", dir}, Timeout: unpackTimeout}); err != nil {
		return fmt.Errorf("unpacking the OCI archive: %w", err)
	}
	return nil
}

// watched wraps the image's layers so that reading them reports progress
// and, for blobs read from local files (which the library takes as they
// are), checks each against its digest: the compressed blob against the
// manifest's digest, or for a docker-archive the layer tar against the
// configuration's diff ID. Registry blobs the library checks itself.
func watched(img v1.Image, t Transport, local bool, progress Progress) (v1.Image, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading its layers: %w", err)
	}
	var total int64
	if t != DockerArchive { // a docker-archive's layers are uncompressed: Size would compress them
		for _, l := range layers {
			n, err := l.Size()
			if err != nil {
				return nil, fmt.Errorf("reading its manifest: %w", err)
			}
			total += n
		}
	}
	done := new(atomic.Int64)
	count := func(n int) { progress(done.Add(int64(n)), total) }
	wrapped := make([]v1.Layer, len(layers))
	for i, l := range layers {
		if t == DockerArchive {
			wrapped[i] = &uncompressedWatch{Layer: l, check: local, count: count}
			continue
		}
		wl, err := partial.CompressedToLayer(&compressedWatch{Layer: l, check: local, count: count})
		if err != nil {
			return nil, err
		}
		wrapped[i] = &namedLayer{Layer: wl}
	}
	return &layersImage{Image: img, layers: wrapped}, nil
}

type layersImage struct {
	v1.Image
	layers []v1.Layer
}

func (i *layersImage) Layers() ([]v1.Layer, error) { return i.layers, nil }

// namedLayer names the layer in the errors of its uncompressed stream (a
// gzip checksum that fails).
type namedLayer struct{ v1.Layer }

func (l *namedLayer) Uncompressed() (io.ReadCloser, error) {
	d, _ := l.Digest()
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d, err)
	}
	return &namedReader{rc: rc, name: "layer " + d.String()}, nil
}

type namedReader struct {
	rc   io.ReadCloser
	name string
}

func (r *namedReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && !strings.HasPrefix(err.Error(), r.name) {
		err = fmt.Errorf("%s: %w", r.name, err)
	}
	return n, err
}

func (r *namedReader) Close() error { return r.rc.Close() }

type compressedWatch struct {
	v1.Layer
	check bool
	count func(int)
}

func (l *compressedWatch) Compressed() (io.ReadCloser, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d, err)
	}
	return newWatch(rc, l.check, d, "blob", l.count), nil
}

type uncompressedWatch struct {
	v1.Layer
	check bool
	count func(int)
}

func (l *uncompressedWatch) Uncompressed() (io.ReadCloser, error) {
	d, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", d, err)
	}
	return newWatch(rc, l.check, d, "layer", l.count), nil
}

// watch counts what is read and, when check is set, compares the digest
// of everything read with want at the end of the stream.
type watch struct {
	rc    io.ReadCloser
	h     hash.Hash
	want  v1.Hash
	what  string
	count func(int)
}

func newWatch(rc io.ReadCloser, check bool, want v1.Hash, what string, count func(int)) *watch {
	w := &watch{rc: rc, want: want, what: what, count: count}
	if check && want.Algorithm == "sha256" {
		w.h = sha256.New()
	}
	return w
}

func (w *watch) Read(p []byte) (int, error) {
	n, err := w.rc.Read(p)
	if n > 0 {
		w.count(n)
		if w.h != nil {
			w.h.Write(p[:n])
		}
	}
	if errors.Is(err, io.EOF) && w.h != nil {
		if got := fmt.Sprintf("sha256:%x", w.h.Sum(nil)); got != w.want.String() {
			return n, fmt.Errorf("%s %s is corrupt: its content has digest %s", w.what, w.want, got)
		}
	}
	return n, err
}

func (w *watch) Close() error { return w.rc.Close() }

// verifyBlobs checks each layer blob of an image read from local files
// against its digest (a docker-archive's layer tars against their diff
// IDs), and names the first that does not match.
func verifyBlobs(img v1.Image, t Transport) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		want, open := l.Digest, l.Compressed
		if t == DockerArchive {
			want, open = l.DiffID, l.Uncompressed
		}
		d, err := want()
		if err != nil {
			return err
		}
		rc, err := open()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
		if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); d.Algorithm == "sha256" && got != d.String() {
			return fmt.Errorf("blob %s is corrupt: its content has digest %s (the file was changed or cut short: copy, save or build the image again)", d, got)
		}
	}
	return nil
}
