package systest

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
)

// GuestCache keeps Debian's cloud kernel between runs (26 MB).
const GuestCache = "/var/cache/labform-test"

// GuestKit returns a kernel and a busybox initramfs for a QEMU guest under
// TCG: Debian's cloud kernel from apt (downloaded once into GuestCache,
// nothing installed), busybox-static as /bin/busybox, the given /init, and
// the kernel's modules named in modules (as /lib/<name>.ko, for init to
// insmod).
func GuestKit(t testing.TB, init string, modules []string) (kernel, initrd string) {
	t.Helper()
	Require(t, "apt-get", "apt-cache", "dpkg-deb", "busybox")
	out, err := exec.Command("apt-cache", "depends", "linux-image-cloud-amd64").Output()
	m := regexp.MustCompile(`Depends: (linux-image-(\S+)-cloud-amd64)`).FindStringSubmatch(string(out))
	if err != nil || m == nil {
		t.Fatalf("apt-cache depends linux-image-cloud-amd64: %v: %s (run apt-get update)", err, out)
	}
	pkg, abi := m[1], m[2]+"-cloud-amd64"
	dir := filepath.Join(GuestCache, abi)
	kernel = filepath.Join(dir, "boot", "vmlinuz-"+abi)
	if _, err := os.Stat(kernel); err != nil {
		os.MkdirAll(GuestCache, 0o755)
		debs, _ := filepath.Glob(filepath.Join(GuestCache, pkg+"_*.deb"))
		if len(debs) == 0 {
			cmd := exec.Command("apt-get", "download", pkg)
			cmd.Dir = GuestCache
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("apt-get download %s: %v: %s", pkg, err, out)
			}
			debs, _ = filepath.Glob(filepath.Join(GuestCache, pkg+"_*.deb"))
		}
		if len(debs) == 0 {
			t.Fatalf("apt-get download %s left no .deb in %s", pkg, GuestCache)
		}
		if out, err := exec.Command("dpkg-deb", "-x", debs[0], dir).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x: %v: %s", err, out)
		}
	}
	mods := map[string]string{}
	filepath.Walk(filepath.Join(dir, "lib", "modules"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			mods[strings.TrimSuffix(filepath.Base(p), ".ko")] = p
		}
		return nil
	})
	bb, _ := exec.LookPath("busybox")
	files := []struct {
		name string
		mode int64
		src  string
		data []byte
	}{{name: "init", mode: 0o755, data: []byte(init)}, {name: "bin/busybox", mode: 0o755, src: bb}}
	for _, mod := range modules {
		if mods[mod] == "" {
			t.Fatalf("module %s is not in %s", mod, dir)
		}
		files = append(files, struct {
			name string
			mode int64
			src  string
			data []byte
		}{name: "lib/" + mod + ".ko", mode: 0o644, src: mods[mod]})
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	w := cpio.NewWriter(gz)
	for _, d := range []string{"bin", "lib", "proc", "sys", "dev"} {
		w.WriteHeader(&cpio.Header{Name: d, Mode: cpio.TypeDir | 0o755})
	}
	for _, f := range files {
		data := f.data
		if f.src != "" {
			if data, err = os.ReadFile(f.src); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteHeader(&cpio.Header{Name: f.name, Mode: cpio.TypeReg | cpio.FileMode(f.mode), Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	w.Close()
	gz.Close()
	initrd = filepath.Join(t.TempDir(), "initrd.gz")
	if err := os.WriteFile(initrd, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return kernel, initrd
}
