package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Transport is where an image is read from.
type Transport string

const (
	Registry      Transport = "docker"         // a bare reference: a registry image
	OCILayout     Transport = "oci"            // oci:DIR[:TAG]
	OCIArchive    Transport = "oci-archive"    // oci-archive:FILE[:TAG]
	DockerArchive Transport = "docker-archive" // docker-archive:FILE (docker save)
)

// Ref is a parsed image reference.
type Ref struct {
	Transport Transport
	// Name is the registry reference (Registry) or the path (the others),
	// made absolute against the lab's directory.
	Name string
	// Tag selects an image of an OCI layout or archive by its
	// org.opencontainers.image.ref.name annotation; empty takes the only one.
	Tag string
	// Given is the reference as the lab wrote it.
	Given string
}

// refNameAnnotation names an image within an OCI layout.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Parse reads a reference in skopeo's transport syntax. Relative paths are
// relative to dir (the lab).
func Parse(s, dir string) (Ref, error) {
	r := Ref{Given: s, Transport: Registry, Name: s}
	t, rest, ok := strings.Cut(s, ":")
	switch {
	case ok && t == "docker" && strings.HasPrefix(rest, "//"):
		r.Name = strings.TrimPrefix(rest, "//")
	case ok && (t == string(OCILayout) || t == string(OCIArchive)):
		r.Transport = Transport(t)
		r.Name, r.Tag = rest, ""
		if i := strings.LastIndex(rest, ":"); i >= 0 {
			r.Name, r.Tag = rest[:i], rest[i+1:]
		}
	case ok && t == string(DockerArchive):
		r.Transport, r.Name = DockerArchive, rest
		if i := strings.LastIndex(rest, ":"); i >= 0 {
			return r, fmt.Errorf("%q: a docker-archive reference is docker-archive:FILE; picking an image of a multi-image archive (%q) is not supported", s, rest[i+1:])
		}
	case ok && (t == "containers-storage" || t == "docker-daemon" || t == "dir" || t == "ostree" || t == "sif"):
		return r, fmt.Errorf("%q: the %s transport is not supported: use a registry reference, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE", s, t)
	}
	if r.Transport == Registry {
		if _, err := name.ParseReference(r.Name); err != nil {
			return r, fmt.Errorf("%q is not an image reference: %v (write e.g. frrouting/frr:v8.4.1, ghcr.io/org/img@sha256:..., oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE)", s, err)
		}
		return r, nil
	}
	if r.Name == "" {
		return r, fmt.Errorf("%q names no path", s)
	}
	if !filepath.IsAbs(r.Name) {
		r.Name = filepath.Join(dir, r.Name)
	}
	return r, nil
}

func (r Ref) String() string { return r.Given }

// Platform is the platform chosen from a multi-platform image.
var Platform = v1.Platform{OS: "linux", Architecture: runtime.GOARCH}

func (r Ref) remoteOptions(ctx context.Context) []remote.Option {
	// Credentials come from the Docker config file, as docker and crane
	// take them (DOCKER_CONFIG, ~/.docker/config.json, credential helpers).
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithPlatform(Platform)}
}

// Resolve returns the digest the reference names now: the manifest (or
// index) digest for a registry or OCI image, the image ID (the digest of
// its configuration) for a docker-archive, which has no manifest digest.
// It reads only the manifests, never a layer.
func Resolve(ctx context.Context, r Ref) (string, error) {
	switch r.Transport {
	case Registry:
		ref, err := name.ParseReference(r.Name)
		if err != nil {
			return "", err
		}
		if d, ok := ref.(name.Digest); ok {
			return d.DigestStr(), nil
		}
		desc, err := remote.Head(ref, r.remoteOptions(ctx)...)
		if err != nil {
			// Some registries answer HEAD badly: GET the manifest.
			d, gerr := remote.Get(ref, r.remoteOptions(ctx)...)
			if gerr != nil {
				return "", fmt.Errorf("asking %s for %s: %w", ref.Context().RegistryStr(), ref, gerr)
			}
			return d.Digest.String(), nil
		}
		return desc.Digest.String(), nil
	case OCILayout, OCIArchive:
		// The same index, in a directory or in a tar file.
		read := readLayoutIndex
		if r.Transport == OCIArchive {
			read = readArchiveIndex
		}
		idx, err := read(r.Name)
		if err != nil {
			return "", err
		}
		d, err := pickManifest(r, idx)
		if err != nil {
			return "", err
		}
		return d.Digest.String(), nil
	case DockerArchive:
		img, err := tarball.ImageFromPath(r.Name, nil)
		if err != nil {
			return "", fmt.Errorf("reading the docker-archive %s: %w%s", r.Name, err, cutShort(err))
		}
		h, err := img.ConfigName()
		if err != nil {
			return "", fmt.Errorf("reading the docker-archive %s: %w", r.Name, err)
		}
		return h.String(), nil
	}
	return "", fmt.Errorf("unknown transport %q", r.Transport)
}

// cutShort is what to do about an archive that ends before its tar does.
func cutShort(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return " (the file ends before the archive does: it was cut short in a copy or a download; copy or save it again)"
	}
	return ""
}

func readLayoutIndex(dir string) (*v1.IndexManifest, error) {
	f, err := os.Open(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout: %w", dir, err)
	}
	defer f.Close()
	return v1.ParseIndexManifest(f)
}

// readArchiveIndex reads index.json out of an OCI archive without
// unpacking it.
func readArchiveIndex(file string) (*v1.IndexManifest, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("opening the OCI archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is not an OCI archive: it has no index.json", file)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the OCI archive %s: %w%s", file, err, cutShort(err))
		}
		if filepath.Clean(h.Name) == "index.json" {
			return v1.ParseIndexManifest(tr)
		}
	}
}

// pickManifest chooses the descriptor the reference's tag names, or the
// only one when it names none.
func pickManifest(r Ref, idx *v1.IndexManifest) (v1.Descriptor, error) {
	var tags []string
	for _, d := range idx.Manifests {
		t := d.Annotations[refNameAnnotation]
		if r.Tag != "" && t == r.Tag {
			return d, nil
		}
		if t != "" {
			tags = append(tags, t)
		}
	}
	if r.Tag == "" && len(idx.Manifests) == 1 {
		return idx.Manifests[0], nil
	}
	if r.Tag == "" {
		return v1.Descriptor{}, fmt.Errorf("%s holds %d images: name one with :TAG (tags: %s)", r.Name, len(idx.Manifests), strings.Join(tags, ", "))
	}
	return v1.Descriptor{}, fmt.Errorf("%s has no image tagged %q (tags: %s)", r.Name, r.Tag, strings.Join(tags, ", "))
}

// open returns the image the digest names. A layout's or an archive's
// directory is dir (the OCI archive unpacked into the store's temporary
// directory); local says whether the blobs come from local files, which
// the library does not check against their digests as it reads them.
func open(ctx context.Context, r Ref, digest, tmp string) (img v1.Image, local bool, err error) {
	switch r.Transport {
	case Registry:
		ref, err := name.ParseReference(r.Name)
		if err != nil {
			return nil, false, err
		}
		dref, err := name.NewDigest(ref.Context().Name() + "@" + digest)
		if err != nil {
			return nil, false, err
		}
		desc, err := remote.Get(dref, r.remoteOptions(ctx)...)
		if err != nil {
			return nil, false, fmt.Errorf("asking %s for %s: %w", ref.Context().RegistryStr(), dref, err)
		}
		img, err := desc.Image() // an index gives the image for Platform
		return img, false, err
	case OCILayout, OCIArchive:
		dir := r.Name
		if r.Transport == OCIArchive {
			dir = tmp
			if err := untarFile(ctx, r.Name, dir); err != nil {
				return nil, true, err
			}
		}
		p, err := layout.FromPath(dir)
		if err != nil {
			return nil, true, fmt.Errorf("%s is not an OCI image layout: %w", dir, err)
		}
		h, err := v1.NewHash(digest)
		if err != nil {
			return nil, true, err
		}
		idx, err := p.ImageIndex()
		if err != nil {
			return nil, true, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, true, err
		}
		for _, d := range im.Manifests {
			if d.Digest == h && d.MediaType.IsIndex() {
				ii, err := idx.ImageIndex(h)
				if err != nil {
					return nil, true, err
				}
				img, err := imageForPlatform(ii)
				return img, true, err
			}
		}
		img, err := p.Image(h)
		if err != nil {
			return nil, true, fmt.Errorf("%s has no image %s (the tag moved since the plan?): %w", r.Name, digest, err)
		}
		return img, true, nil
	case DockerArchive:
		img, err := tarball.ImageFromPath(r.Name, nil)
		if err != nil {
			return nil, true, err
		}
		h, err := img.ConfigName()
		if err != nil {
			return nil, true, err
		}
		if h.String() != digest {
			return nil, true, fmt.Errorf("the docker-archive %s now holds image %s, not %s as planned: plan again", r.Name, h, digest)
		}
		return img, true, nil
	}
	return nil, false, fmt.Errorf("unknown transport %q", r.Transport)
}

func imageForPlatform(ii v1.ImageIndex) (v1.Image, error) {
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Platform == nil || d.Platform.Satisfies(Platform) {
			return ii.Image(d.Digest)
		}
	}
	b, _ := json.Marshal(Platform)
	return nil, fmt.Errorf("the image index has no image for %s", b)
}
