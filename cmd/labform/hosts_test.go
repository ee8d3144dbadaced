package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/providers/all"
)

// TestGoldenHostDiagnostics compares validate's output for mistakes in
// host blocks and placements: a host not declared, a host written as a
// string, a host on a link, an ssh address without a user, and a link
// across hosts whose mtu leaves no room for VXLAN's headers.
func TestGoldenHostDiagnostics(t *testing.T) {
	for _, dir := range []string{"../../testdata/hosts", "../../testdata/hosts/mtu"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "main.lab.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			c := newCLI(t, map[string]string{"main.lab.hcl": string(src)})
			r := c.must(1, "validate")
			got := strings.ReplaceAll(r.errOut, c.dir, "LABDIR")
			checkGolden(t, filepath.Join(dir, "validate.golden"), got)
		})
	}
}

// TestExpandHostTargets turns host.NAME into the resources on that host,
// leaves other targets alone and refuses an undeclared host.
func TestExpandHostTargets(t *testing.T) {
	src, err := os.ReadFile("../../testdata/hosts/mtu/main.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	l := config.NewLab(t.TempDir(), all.Registry())
	diags := l.AddFile("main.lab.hcl", src)
	if diags = append(diags, l.Check()...); diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, tt := range []struct {
		in   []string
		want string
		err  string
	}{
		{[]string{"host.edge1"}, "container.b link.ab link.fits", ""},
		{[]string{"container.a", "host.edge1"}, "container.a container.b link.ab link.fits", ""},
		{[]string{"container.a"}, "container.a", ""},
		{[]string{"host.edge9"}, "", `no host "edge9" is declared (hosts: edge1)`},
		{[]string{"host.edge1[0]"}, "", "a host is addressed as host.NAME"},
	} {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			ts, err := parseTargets(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := expandHostTargets(l, ts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, g := range got {
				names = append(names, g.String())
			}
			if s := strings.Join(names, " "); s != tt.want {
				t.Fatalf("got %q, want %q", s, tt.want)
			}
		})
	}
}
