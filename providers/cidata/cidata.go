package cidata

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kdomanski/iso9660"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// Label is the volume label cloud-init's NoCloud data source looks for.
const Label = "cidata"

// Disk is what goes on a config disk.
type Disk struct {
	// UserData, MetaData and NetworkConfig are the cloud_init block's;
	// nil ones get the defaults (NetworkConfig: no file).
	UserData, MetaData, NetworkConfig *string
	Files                             []providers.NodeFile
	// InstanceID and Hostname go into the default meta-data. The instance
	// ID should change when the files do: cloud-init runs write_files once
	// per instance.
	InstanceID, Hostname string
}

// FromValue reads a vm value's cloud_init block and file blocks (sources
// read from labDir).
func FromValue(v cty.Value, labDir string) (*Disk, error) {
	files, err := providers.Files(v, labDir)
	if err != nil {
		return nil, err
	}
	d := &Disk{Files: files}
	if ci := v.GetAttr("cloud_init"); !ci.IsNull() {
		get := func(name string) *string {
			if a := ci.GetAttr(name); !a.IsNull() {
				s := a.AsString()
				return &s
			}
			return nil
		}
		d.UserData, d.MetaData, d.NetworkConfig = get("user_data"), get("meta_data"), get("network_config")
	}
	return d, nil
}

// Wanted reports whether a vm value asks for a config disk: it has file
// blocks or a cloud_init block.
func Wanted(v cty.Value) bool {
	f, ci := v.GetAttr("file"), v.GetAttr("cloud_init")
	return !ci.IsNull() || !f.IsNull() && f.LengthInt() > 0
}

// Identify sets the default meta-data's instance ID and hostname for the
// VM of the given object ID and address. The instance ID is lf-, the
// object ID's first 12 digits and the Digest's first 12: it changes with
// the files, so that cloud-init writes them again, and never with the
// address, so that a state mv keeps the instance.
func (d *Disk) Identify(objectID, addr string) {
	d.InstanceID, d.Hostname = "lf-"+objectID[:12]+"-"+d.Digest()[:12], Hostname(addr)
}

// Digest is a SHA-256 of what the disk holds but the default meta-data:
// what its instance ID derives from.
func (d *Disk) Digest() string {
	h := sha256.New()
	for _, s := range []*string{d.UserData, d.MetaData, d.NetworkConfig} {
		if s == nil {
			h.Write([]byte{0})
			continue
		}
		fmt.Fprintf(h, "\x01%d\x00%s", len(*s), *s)
	}
	h.Write([]byte(providers.FilesDigest(d.Files)))
	return hex.EncodeToString(h.Sum(nil))
}

// manifestEntry is one file of labform/files.json.
type manifestEntry struct {
	Path  string `json:"path"`
	Mode  string `json:"mode"`
	Owner string `json:"owner,omitempty"`
	File  string `json:"file"`
}

// writeFile is one entry of cloud-init's write_files.
type writeFile struct {
	Path        string `json:"path"`
	Encoding    string `json:"encoding"`
	Content     string `json:"content"`
	Permissions string `json:"permissions"`
	Owner       string `json:"owner,omitempty"`
}

// marshal is JSON (a YAML that cloud-init reads) without HTML escapes.
func marshal(v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	e.Encode(v)
	return b.Bytes()
}

// DefaultUserData is the default user-data: a #cloud-config that writes the files.
func (d *Disk) DefaultUserData() string {
	wf := make([]writeFile, len(d.Files))
	for i, f := range d.Files {
		wf[i] = writeFile{Path: f.Path, Encoding: "b64", Content: base64.StdEncoding.EncodeToString(f.Content),
			Permissions: providers.OctalMode(f.Mode), Owner: f.Owner}
	}
	if len(wf) == 0 {
		return "#cloud-config\n{}\n"
	}
	return "#cloud-config\n" + string(marshal(map[string]any{"write_files": wf}))
}

// DefaultMetaData is the default meta-data.
func (d *Disk) DefaultMetaData() string {
	return string(marshal(map[string]string{"instance-id": d.InstanceID, "local-hostname": d.Hostname}))
}

// Contents are the files of the image, by path on the image.
func (d *Disk) Contents() map[string][]byte {
	m := map[string][]byte{}
	ud, md := d.DefaultUserData(), d.DefaultMetaData()
	if d.UserData != nil {
		ud = *d.UserData
	}
	if d.MetaData != nil {
		md = *d.MetaData
	}
	m["user-data"], m["meta-data"] = []byte(ud), []byte(md)
	if d.NetworkConfig != nil {
		m["network-config"] = []byte(*d.NetworkConfig)
	}
	manifest := make([]manifestEntry, len(d.Files))
	for i, f := range d.Files {
		name := "labform/files/" + strconv.Itoa(i)
		manifest[i] = manifestEntry{Path: f.Path, Mode: providers.OctalMode(f.Mode), Owner: f.Owner, File: name}
		m[name] = f.Content
	}
	m["labform/files.json"] = marshal(manifest)
	return m
}

// Write builds the image at path (replacing it, readable by its owner
// only: the files may hold secrets).
func (d *Disk) Write(path string) error {
	w, err := iso9660.NewWriter()
	if err != nil {
		return fmt.Errorf("config disk: %w", err)
	}
	defer w.Cleanup()
	for name, data := range d.Contents() {
		if err := w.AddFile(bytes.NewReader(data), name); err != nil {
			return fmt.Errorf("config disk: %s: %w", name, err)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("config disk: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(providers.PrivateFileMode); err != nil {
		f.Close()
		return err
	}
	if err := w.WriteTo(f, Label); err != nil {
		f.Close()
		return fmt.Errorf("config disk: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Read reads an image's label and files (by path on the image, as Linux
// shows them: lower case, without the ;1 version), to check what Write
// made.
func Read(r io.ReaderAt) (label string, files map[string][]byte, err error) {
	img, err := iso9660.OpenImage(r)
	if err != nil {
		return "", nil, err
	}
	if label, err = img.Label(); err != nil {
		return "", nil, err
	}
	root, err := img.RootDir()
	if err != nil {
		return "", nil, err
	}
	files = map[string][]byte{}
	var walk func(dir *iso9660.File, prefix string) error
	walk = func(dir *iso9660.File, prefix string) error {
		children, err := dir.GetChildren()
		if err != nil {
			return err
		}
		for _, c := range children {
			name := prefix + strings.ToLower(c.Name())
			if c.IsDir() {
				if err := walk(c, name+"/"); err != nil {
					return err
				}
				continue
			}
			b, err := io.ReadAll(c.Reader())
			if err != nil {
				return err
			}
			files[name] = b
		}
		return nil
	}
	return label, files, walk(root, "")
}

// Hostname makes a host name of a resource address: vm.r1[0] gives r1-0.
func Hostname(addr string) string {
	if i := strings.IndexByte(addr, '.'); i >= 0 {
		addr = addr[i+1:]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(addr) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if len(h) > 63 {
		h = strings.Trim(h[:63], "-")
	}
	if h == "" {
		h = "vm"
	}
	return h
}
