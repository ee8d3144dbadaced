package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	rootfs := flag.String("rootfs", "", "the root filesystem directory")
	out := flag.String("layout", "", "the OCI image layout directory to write (created or appended to)")
	tag := flag.String("tag", "latest", "the tag recorded for the image in the layout")
	var cmd, env list
	flag.Var(&cmd, "cmd", "the image's Cmd, one argument per flag")
	flag.Var(&env, "env", "an Env entry NAME=VALUE, repeatable")
	flag.Parse()
	if *rootfs == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*rootfs, *out, *tag, cmd, env); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(rootfs, out, tag string, cmd, env []string) error {
	tmp, err := os.MkdirTemp("", "mkimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	layerTar := filepath.Join(tmp, "layer.tar")
	// Numeric owners: the image's /etc/passwd, not the host's, names them.
	tar := exec.Command("tar", "--numeric-owner", "--xattrs", "-C", rootfs, "-cf", layerTar, ".")
	if msg, err := tar.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(tar.Args, " "), err, msg)
	}
	layer, err := tarball.LayerFromFile(layerTar, tarball.WithCompressedCaching, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config = v1.Config{Cmd: cmd, Env: append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	p, err := layout.FromPath(out)
	if err != nil {
		if p, err = layout.Write(out, empty.Index); err != nil {
			return err
		}
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s:%s is %s\n", out, tag, d)
	return nil
}
