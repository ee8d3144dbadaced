package labview_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/internal/graphviz"
	"github.com/labform/labform/internal/labview"
	"github.com/labform/labform/internal/systest"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/all"
)

// segmentLab builds the model of testdata/topology/segment.lab.hcl as
// graph -type=topology draws it.
func segmentLab(t *testing.T) *labview.Lab {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("../../testdata/topology/segment.lab.hcl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "main.lab.hcl"), src, 0o644)
	reg := all.Registry()
	lab, diags := config.Load(dir, reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	in := config.NewInputs()
	in.Unknowns = true
	d, diags := config.Evaluate(lab, in, nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return labview.Build(labview.Input{Lab: providers.Lab{Name: lab.Name, Dir: lab.Dir}, Registry: reg, Desired: d, PreferDesired: true})
}

// chromium runs headless Chromium on a page with a fresh profile and no
// network chatter, and returns its output.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
		"--window-size=1400,900"}
	cmd := exec.CommandContext(ctx, "chromium", append(base, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errOut.String())
	}
	return out.Bytes()
}

// TestHTML_inABrowser opens graph -format=html's page in headless
// Chromium: the screenshot is a picture (not blank), and the page as the
// browser built it holds every node's label and wires each node's hover.
func TestHTML_inABrowser(t *testing.T) {
	systest.Require(t, "chromium")
	lab := segmentLab(t)
	page := filepath.Join(t.TempDir(), "lab.html")
	var b bytes.Buffer
	if err := labview.WriteHTML(context.Background(), &b, lab, graphviz.SVG); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	shot := filepath.Join(t.TempDir(), "shot.png")
	chromium(t, "--screenshot="+shot, "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if dark := darkPixels(img); dark < 2000 {
		t.Errorf("the screenshot is (nearly) blank: %d dark pixels", dark)
	}

	dom := string(chromium(t, "--dump-dom", "file://"+page))
	for _, n := range lab.Nodes {
		if !strings.Contains(dom, ">"+n.Address+"<") {
			t.Errorf("the page has no label of %s", n.Address)
		}
	}
	if want := fmt.Sprintf(`data-hover-nodes="%d"`, len(lab.Nodes)); !strings.Contains(dom, want) {
		t.Errorf("the page's script did not wire every node's hover (want %s):\n%.2000s", want, dom)
	}
	for _, s := range []string{"link.lan (segment)", "link.wan", "rate=10mbit", "firewall core_in"} {
		if !strings.Contains(dom, s) {
			t.Errorf("the page does not say %q", s)
		}
	}
}

// darkPixels counts the pixels of img that are clearly not background.
func darkPixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if (r+g+bl)/3 < 0x8000 {
				n++
			}
		}
	}
	return n
}
