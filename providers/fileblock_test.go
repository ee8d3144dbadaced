package providers

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func fileObj(path, content, source, mode, owner string, onChange ...string) cty.Value {
	str := func(s string) cty.Value {
		if s == "" {
			return cty.NullVal(cty.String)
		}
		return cty.StringVal(s)
	}
	oc := cty.NullVal(cty.List(cty.String))
	if onChange != nil {
		oc = cty.ListValEmpty(cty.String)
		if len(onChange) > 0 && onChange[0] != "" {
			var l []cty.Value
			for _, s := range onChange {
				l = append(l, cty.StringVal(s))
			}
			oc = cty.ListVal(l)
		}
	}
	return cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(path), "content": str(content), "source": str(source),
		"mode": cty.StringVal(mode), "owner": str(owner), "on_change": oc})
}

func withFiles(files ...cty.Value) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"file": cty.ListVal(files)})
}

func TestValidateFiles(t *testing.T) {
	tests := map[string]struct {
		files      []cty.Value
		noOnChange string
		want       []string // "path: summary"
	}{
		"valid": {files: []cty.Value{fileObj("/etc/a", "x", "", "0640", "frr:frr"), fileObj("/etc/b", "", "b", "0644", "0:0")}},
		"relative path": {files: []cty.Value{fileObj("etc/a", "x", "", "0644", "")},
			want: []string{"file[0].path: Invalid file path"}},
		"root": {files: []cty.Value{fileObj("/", "x", "", "0644", "")}, want: []string{"file[0].path: Invalid file path"}},
		"duplicate": {files: []cty.Value{fileObj("/etc/a", "x", "", "0644", ""), fileObj("/etc//a", "y", "", "0644", "")},
			want: []string{"file[1].path: Duplicate file path"}},
		"neither": {files: []cty.Value{fileObj("/etc/a", "", "", "0644", "")}, want: []string{"file[0].path: File without content"}},
		"both":    {files: []cty.Value{fileObj("/etc/a", "x", "y", "0644", "")}, want: []string{"file[0].source: Both content and source"}},
		"mode": {files: []cty.Value{fileObj("/etc/a", "x", "", "rw-r--r--", ""), fileObj("/etc/b", "x", "", "10000", "")},
			want: []string{"file[0].mode: Invalid file mode", "file[1].mode: Invalid file mode"}},
		"owner": {files: []cty.Value{fileObj("/etc/a", "x", "", "0644", "frr"), fileObj("/etc/b", "x", "", "0644", ":g")},
			want: []string{"file[0].owner: Invalid file owner", "file[1].owner: Invalid file owner"}},
		"owner with two colons": {files: []cty.Value{fileObj("/etc/a", "x", "", "0644", "a:b:c")},
			want: []string{"file[0].owner: Invalid file owner"}},
		"on_change allowed": {files: []cty.Value{fileObj("/etc/a", "x", "", "0644", "", "vtysh", "-b")}},
		"on_change refused": {files: []cty.Value{fileObj("/etc/a", "x", "", "0644", "", "vtysh", "-b")}, noOnChange: "no agent",
			want: []string{"file[0].on_change: on_change is not supported here"}},
		"on_change empty": {files: []cty.Value{fileObj("/etc/a", "x", "", "0644", "", "")},
			want: []string{"file[0].on_change: Empty on_change"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range ValidateFiles(withFiles(tc.files...), tc.noOnChange) {
				got = append(got, pathString(e.Path)+": "+e.Summary)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("wrong errors\ngot:  %q\nwant: %q", got, tc.want)
			}
		})
	}
}

func pathString(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			i, _ := s.Key.AsBigFloat().Int64()
			b.WriteString("[" + string(rune('0'+i)) + "]")
		}
	}
	return b.String()
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]os.FileMode{"0644": 0o644, "640": 0o640, "4755": os.ModeSetuid | 0o755, "1777": os.ModeSticky | 0o777, "2750": os.ModeSetgid | 0o750} {
		got, err := ParseMode(s)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", s, got, err, want)
		}
		if back, _ := ParseMode(OctalMode(got)); back != got {
			t.Errorf("OctalMode(%v) = %q does not read back", got, OctalMode(got))
		}
	}
	for _, s := range []string{"", "9", "0o644", "17777", "-1"} {
		if _, err := ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) accepted", s)
		}
	}
}

func TestFiles(t *testing.T) {
	lab := t.TempDir()
	os.MkdirAll(filepath.Join(lab, "d", "sub"), 0o755)
	os.WriteFile(filepath.Join(lab, "one"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(lab, "d", "z"), []byte("z"), 0o644)
	os.WriteFile(filepath.Join(lab, "d", "sub", "a"), []byte("a"), 0o644)
	files, err := Files(withFiles(fileObj("/x", "text", "", "0600", "a:b"), fileObj("/y", "", "one", "0644", ""), fileObj("/etc/d", "", "d", "0640", "")), lab)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path+" "+OctalMode(f.Mode)+" "+f.Owner+" "+string(f.Content))
	}
	want := []string{"/x 0600 a:b text", "/y 0644  1", "/etc/d/sub/a 0640  a", "/etc/d/z 0640  z"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("wrong files\ngot:  %q\nwant: %q", got, want)
	}
	if _, err := Files(withFiles(fileObj("/y", "", "missing", "0644", "")), lab); err == nil || !strings.Contains(err.Error(), "file[0] /y: source") {
		t.Errorf("a missing source gave %v", err)
	}
	big, _ := os.Create(filepath.Join(lab, "big"))
	big.Truncate(MaxNodeFiles + 1)
	big.Close()
	if _, err := Files(withFiles(fileObj("/y", "", "big", "0644", "")), lab); err == nil || !strings.Contains(err.Error(), "the most labform puts in one node") {
		t.Errorf("a source over MaxNodeFiles gave %v", err)
	}
	if err := syscall.Mkfifo(filepath.Join(lab, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Files(withFiles(fileObj("/y", "", "fifo", "0644", "")), lab); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO source gave %v", err)
	}
	for name, tc := range map[string]struct {
		files []cty.Value
		want  string
	}{
		"a directory's file and a block":  {[]cty.Value{fileObj("/etc/d", "", "d", "0644", ""), fileObj("/etc/d/z", "x", "", "0644", "")}, "file[0] and file[1] both write /etc/d/z"},
		"two directories":                 {[]cty.Value{fileObj("/etc/d", "", "d", "0644", ""), fileObj("/etc/d/sub", "", "d/sub", "0644", "")}, "file[0] and file[1] both write /etc/d/sub/a"},
		"a file inside a file":            {[]cty.Value{fileObj("/etc/d", "x", "", "0644", ""), fileObj("/etc/d/sub/a", "x", "", "0644", "")}, "file[1] writes /etc/d/sub/a, inside /etc/d, which file[0] writes as a file"},
		"a file over a directory's files": {[]cty.Value{fileObj("/etc/d", "", "d", "0644", ""), fileObj("/etc/d/sub", "x", "", "0644", "")}, "file[1] writes /etc/d/sub as a file, but file[0] writes files inside it"},
	} {
		if _, err := Files(withFiles(tc.files...), lab); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, tc.want)
		}
	}
	// The lab directory itself as a source: its files, never labform's
	// state under .labform.
	whole := t.TempDir()
	os.MkdirAll(filepath.Join(whole, ".labform", "backups"), 0o700)
	os.WriteFile(filepath.Join(whole, ".labform", "state.db"), []byte("secret"), 0o600)
	os.WriteFile(filepath.Join(whole, ".labform", "backups", "s.db"), []byte("secret"), 0o600)
	os.WriteFile(filepath.Join(whole, "main.lab.hcl"), []byte("lab {}\n"), 0o644)
	got = nil
	all, err := Files(withFiles(fileObj("/lab", "", ".", "0644", "")), whole)
	for _, f := range all {
		got = append(got, f.Path)
	}
	if err != nil || strings.Join(got, " ") != "/lab/main.lab.hcl" {
		t.Errorf("the lab directory as a source gave %q, %v; want only /lab/main.lab.hcl", got, err)
	}
	if _, err := Files(withFiles(fileObj("/etc/d", "", "d", "0644", ""), fileObj("/etc/d/new", "x", "", "0644", "")), lab); err != nil {
		t.Errorf("a block adding a file to a directory's: %v", err)
	}
	a, b := FilesDigest(files), FilesDigest(files[:3])
	if a == b || a != FilesDigest(files) {
		t.Error("FilesDigest is not a digest of the files")
	}
}
