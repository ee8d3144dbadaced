package cidata

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// vmValue is a vm value with only what FromValue reads.
func vmValue(files []cty.Value, ci cty.Value) cty.Value {
	schema := &providers.Block{Blocks: map[string]*providers.NestedBlock{"file": providers.FileBlock(), "cloud_init": providers.CloudInitBlock()}}
	(&providers.Schema{Block: *schema}).Finalize()
	fileType := schema.Blocks["file"].Block.ImpliedType()
	fv := cty.ListValEmpty(fileType)
	if len(files) > 0 {
		fv = cty.ListVal(files)
	}
	if ci == cty.NilVal {
		ci = cty.NullVal(schema.Blocks["cloud_init"].Block.ImpliedType())
	}
	return cty.ObjectVal(map[string]cty.Value{"file": fv, "cloud_init": ci})
}

func fileVal(path, content, source, mode, owner string) cty.Value {
	str := func(s string) cty.Value {
		if s == "" {
			return cty.NullVal(cty.String)
		}
		return cty.StringVal(s)
	}
	return cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(path), "content": str(content), "source": str(source),
		"mode": cty.StringVal(mode), "owner": str(owner), "on_change": cty.NullVal(cty.List(cty.String))})
}

// TestWrite_readBack builds a config disk and reads the image back: the
// label, the NoCloud files, the manifest and each file's content.
func TestWrite_readBack(t *testing.T) {
	lab := t.TempDir()
	os.MkdirAll(filepath.Join(lab, "configs", "frr.d"), 0o755)
	os.WriteFile(filepath.Join(lab, "configs", "daemons"), []byte("zebra=yes\n"), 0o644)
	os.WriteFile(filepath.Join(lab, "configs", "frr.d", "a.conf"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(lab, "configs", "frr.d", "b.conf"), []byte("b\n"), 0o644)
	tests := map[string]struct {
		files     []cty.Value
		ci        cty.Value
		wantFiles []manifestEntry
		contents  map[string]string // ISO path -> content
		userData  string            // "" to check the generated write_files
	}{
		"files and default cloud-init": {
			files: []cty.Value{
				fileVal("/etc/frr/frr.conf", "hostname r1\n", "", "0640", "frr:frr"),
				fileVal("/etc/frr/daemons", "", "configs/daemons", "0644", ""),
				fileVal("/etc/frr/frr.d", "", "configs/frr.d", "0600", "0:0"),
			},
			wantFiles: []manifestEntry{
				{Path: "/etc/frr/frr.conf", Mode: "0640", Owner: "frr:frr", File: "labform/files/0"},
				{Path: "/etc/frr/daemons", Mode: "0644", File: "labform/files/1"},
				{Path: "/etc/frr/frr.d/a.conf", Mode: "0600", Owner: "0:0", File: "labform/files/2"},
				{Path: "/etc/frr/frr.d/b.conf", Mode: "0600", Owner: "0:0", File: "labform/files/3"},
			},
			contents: map[string]string{"labform/files/0": "hostname r1\n", "labform/files/1": "zebra=yes\n", "labform/files/2": "a\n", "labform/files/3": "b\n"},
		},
		"cloud_init given": {
			files: []cty.Value{fileVal("/etc/motd", "hi\n", "", "0644", "")},
			ci: cty.ObjectVal(map[string]cty.Value{"user_data": cty.StringVal("#!/bin/sh\necho hi\n"),
				"meta_data": cty.StringVal("instance-id: x\n"), "network_config": cty.StringVal("version: 2\n")}),
			wantFiles: []manifestEntry{{Path: "/etc/motd", Mode: "0644", File: "labform/files/0"}},
			contents:  map[string]string{"user-data": "#!/bin/sh\necho hi\n", "meta-data": "instance-id: x\n", "network-config": "version: 2\n", "labform/files/0": "hi\n"},
			userData:  "#!/bin/sh\necho hi\n",
		},
		"only cloud_init": {
			ci:        cty.ObjectVal(map[string]cty.Value{"user_data": cty.NullVal(cty.String), "meta_data": cty.NullVal(cty.String), "network_config": cty.StringVal("version: 1\n")}),
			wantFiles: []manifestEntry{},
			contents:  map[string]string{"user-data": "#cloud-config\n{}\n", "network-config": "version: 1\n"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := FromValue(vmValue(tc.files, tc.ci), lab)
			if err != nil {
				t.Fatal(err)
			}
			d.InstanceID, d.Hostname = "lf-0123-"+d.Digest()[:8], "r1"
			iso := filepath.Join(t.TempDir(), "cidata.iso")
			if err := d.Write(iso); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(iso); fi.Mode().Perm() != 0o600 {
				t.Errorf("the image's mode is %v, want 0600", fi.Mode().Perm())
			}
			f, err := os.Open(iso)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			label, got, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if label != Label {
				t.Errorf("label %q, want %q", label, Label)
			}
			for p, want := range tc.contents {
				if string(got[p]) != want {
					t.Errorf("%s: got %q, want %q (files: %v)", p, got[p], want, keys(got))
				}
			}
			var manifest []manifestEntry
			if err := json.Unmarshal(got["labform/files.json"], &manifest); err != nil {
				t.Fatalf("labform/files.json: %v: %s", err, got["labform/files.json"])
			}
			if !equalJSON(manifest, tc.wantFiles) {
				t.Errorf("wrong manifest\ngot:  %+v\nwant: %+v", manifest, tc.wantFiles)
			}
			if tc.ci == cty.NilVal || tc.ci.GetAttr("meta_data").IsNull() {
				var md map[string]string
				if err := json.Unmarshal(got["meta-data"], &md); err != nil || md["instance-id"] != d.InstanceID || md["local-hostname"] != "r1" {
					t.Errorf("wrong default meta-data %s (%v)", got["meta-data"], err)
				}
			}
			if tc.userData == "" && len(tc.files) > 0 {
				ud := got["user-data"]
				if !bytes.HasPrefix(ud, []byte("#cloud-config\n")) {
					t.Fatalf("user-data is not a #cloud-config: %s", ud)
				}
				var cc struct {
					WriteFiles []writeFile `json:"write_files"`
				}
				if err := json.Unmarshal(ud[len("#cloud-config\n"):], &cc); err != nil {
					t.Fatal(err)
				}
				if len(cc.WriteFiles) != len(tc.wantFiles) {
					t.Fatalf("write_files has %d files, want %d", len(cc.WriteFiles), len(tc.wantFiles))
				}
				for i, w := range cc.WriteFiles {
					content, _ := base64.StdEncoding.DecodeString(w.Content)
					m := tc.wantFiles[i]
					if w.Path != m.Path || w.Permissions != m.Mode || w.Owner != m.Owner || w.Encoding != "b64" || string(content) != tc.contents[m.File] {
						t.Errorf("write_files[%d] = %+v (content %q), want %+v", i, w, content, m)
					}
				}
			}
		})
	}
}

// TestDigest: the digest, and so the instance ID, changes with any file
// and with the cloud_init files.
func TestDigest(t *testing.T) {
	base := func() *Disk {
		return &Disk{Files: []providers.NodeFile{{Path: "/a", Content: []byte("x"), Mode: 0o644}}}
	}
	ud := "#cloud-config\n"
	variants := map[string]*Disk{"base": base()}
	d := base()
	d.Files[0].Content = []byte("y")
	variants["content"] = d
	d = base()
	d.Files[0].Mode = 0o600
	variants["mode"] = d
	d = base()
	d.Files[0].Owner = "a:b"
	variants["owner"] = d
	d = base()
	d.UserData = &ud
	variants["user_data"] = d
	d = base()
	d.NetworkConfig = &ud
	variants["network_config"] = d
	seen := map[string]string{}
	for name, d := range variants {
		if other, dup := seen[d.Digest()]; dup {
			t.Errorf("%s and %s have the same digest", name, other)
		}
		seen[d.Digest()] = name
	}
	if base().Digest() != base().Digest() {
		t.Error("the digest is not stable")
	}
}

func TestHostname(t *testing.T) {
	for addr, want := range map[string]string{"vm.r1": "r1", "vm.r[0]": "r-0", `vm.r["Edge_1"]`: "r-edge-1", "vm.__": "vm"} {
		if got := Hostname(addr); got != want {
			t.Errorf("Hostname(%q) = %q, want %q", addr, got, want)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// BenchmarkWrite builds a config disk of 100 files of 10 KiB (1 MiB), what
// a VM start adds.
func BenchmarkWrite(b *testing.B) {
	d := &Disk{InstanceID: "lf-bench", Hostname: "bench"}
	for i := 0; i < 100; i++ {
		d.Files = append(d.Files, providers.NodeFile{Path: fmt.Sprintf("/etc/bench/%d.conf", i), Content: bytes.Repeat([]byte("x"), 10<<10), Mode: 0o644})
	}
	iso := filepath.Join(b.TempDir(), "cidata.iso")
	for b.Loop() {
		if err := d.Write(iso); err != nil {
			b.Fatal(err)
		}
	}
}
