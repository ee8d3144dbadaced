package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/providers"
)

// TestWriteFiles_oddPaths: files are written inside the node's root
// whatever symlinks the image holds, and paths that cannot be written
// say why and what to do.
func TestWriteFiles_oddPaths(t *testing.T) {
	host := t.TempDir() // stands for the host's files a symlink points at
	victim := filepath.Join(host, "victim")
	if err := os.WriteFile(victim, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		path   string
		inNode string // where the content must land, relative to the root
		err    string
	}{
		{"plain", "/etc/a/b", "etc/a/b", ""},
		{"absolute symlink to a host file", "/etc/outfile", "etc/outfile", ""},
		{"relative symlink climbing out", "/etc/rel/x", "", "it is a symlink to ../../../../../../.." + host + ", which the node lacks"},
		{"absolute symlink to a directory the node lacks", "/etc/out/x", "", "it is a symlink to " + host + ", which the node lacks"},
		{"a directory in the image", "/etc/adir", "", "it is a directory there: a file block's path names a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "etc", "adir"), 0o755)
			os.Symlink(victim, filepath.Join(root, "etc", "outfile"))
			os.Symlink(host, filepath.Join(root, "etc", "out"))
			os.Symlink("../../../../../../.."+host, filepath.Join(root, "etc", "rel"))
			f := fileBlock{Path: tc.path, Files: []providers.NodeFile{{Path: tc.path, Content: []byte("lab\n"), Mode: 0o644}}}
			err := writeFiles(root, []fileBlock{f})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("err = %v; want one naming %s and %q", err, tc.path, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.inNode != "" {
				if b, err := os.ReadFile(filepath.Join(root, tc.inNode)); err != nil || string(b) != "lab\n" {
					t.Errorf("%s in the node: %q, %v", tc.inNode, b, err)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "host\n" {
				t.Fatalf("the host's file was written through the node's symlink: %q", b)
			}
			if entries, _ := os.ReadDir(host); len(entries) != 1 {
				t.Fatalf("something was made in the host's directory: %v", entries)
			}
		})
	}
}
