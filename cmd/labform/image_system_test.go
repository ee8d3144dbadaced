package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers/container/image/imagetest"
)

// TestSystem_CLIImage runs a container from an OCI layout through the
// binary: init prefetches the image with progress, plan shows its digest,
// apply runs it with its file, destroy removes it.
func TestSystem_CLIImage(t *testing.T) {
	systest.Require(t, "runc", "busybox", "tar")
	dir, store := t.TempDir(), t.TempDir()
	img := imagetest.Busybox(t)
	p, err := layout.Write(filepath.Join(dir, "images"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	src := fmt.Sprintf(`lab {
  name = "lfimg%d"
}
provider "container" {
  image_store = %q
}
container "r1" {
  image = "oci:images:v1"
  file {
    path    = "/etc/frr/frr.conf"
    content = "hostname r1\n"
  }
}
`, os.Getpid()%100000, store)
	if err := os.WriteFile(filepath.Join(dir, "main.lab.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd, out := realLabform(t, dir, args...)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("labform %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	t.Cleanup(func() {
		cmd, _ := realLabform(t, dir, "destroy", "-auto-approve")
		exited(cmd, 30*time.Second)
	})
	out := run("init")
	for _, want := range []string{"Container images (store " + store + "):", "- oci:images:v1: fetching " + digest.String(), "fetched and unpacked in"} {
		if !strings.Contains(out, want) {
			t.Fatalf("init output lacks %q:\n%s", want, out)
		}
	}
	t.Log(out)
	out = run("plan")
	t.Log(out)
	if !strings.Contains(out, `image_digest    = "`+digest.String()+`"`) && !strings.Contains(out, `image_digest = "`+digest.String()+`"`) {
		t.Fatalf("plan does not show the image's digest %s:\n%s", digest, out)
	}
	out = run("apply", "-auto-approve")
	if !strings.Contains(out, "1 added") {
		t.Fatalf("apply:\n%s", out)
	}
	h, _ := v1.NewHash(digest.String())
	if _, err := os.Stat(filepath.Join(store, "sha256", h.Hex, "rootfs", "bin", "busybox")); err != nil {
		t.Fatalf("the store lacks the image: %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".labform", "container", "lf-*", "upper", "etc", "frr", "frr.conf"))
	if len(matches) != 1 {
		t.Fatalf("the file block is not in the container's upper layer: %v", matches)
	}
	run("destroy", "-auto-approve")
	if matches, _ := filepath.Glob(filepath.Join(dir, ".labform", "container", "lf-*")); len(matches) > 0 {
		t.Fatalf("destroy left %v", matches)
	}
}
