package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/labform/labform/providers/labnet"
)

// qemuImg runs qemu-img (through labnet.Run: tool_timeout, a process
// group of its own) and returns its standard output and exit code; a
// failure says what was run and what it answered on stderr.
func (p *Provider) qemuImg(ctx context.Context, args ...string) ([]byte, int, error) {
	out, err := labnet.Run(ctx, labnet.Tool{Name: p.imgPath(), Args: args, Timeout: p.timeout})
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return out, code, err
}

// checkImage stats a file of the VM (a disk's image, the kernel, ...)
// and names it and its path when it is missing or a dangling link.
func checkImage(what, path string) error {
	if _, err := os.Stat(path); err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			return fmt.Errorf("%s: %s is a dangling symbolic link (to %s)", what, path, target)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// prepareDisks resolves the VM's disks. A linked clone gets a qcow2
// overlay per disk in the working directory, made once (a restart keeps
// the guest's writes): the base is checked first, leaks are repaired,
// corruption stops the apply. Without linked clones QEMU opens the images.
func (p *Provider) prepareDisks(ctx context.Context, c *vmConfig, linked bool) error {
	for i := range c.Disks {
		d := &c.Disks[i]
		if err := checkImage("disk "+d.Slot+" image", d.Image); err != nil {
			return err
		}
		out, _, err := p.qemuImg(ctx, "info", "--output=json", d.Image)
		if err != nil {
			return fmt.Errorf("disk %s: %w", d.Slot, err)
		}
		var info struct {
			Format string `json:"format"`
		}
		if err := json.Unmarshal(out, &info); err != nil || info.Format == "" {
			return fmt.Errorf("disk %s: qemu-img info %s gave no format: %s", d.Slot, d.Image, out)
		}
		if !linked {
			d.Path, d.Format = d.Image, info.Format
			continue
		}
		overlay := filepath.Join(c.Dir, d.Slot+".qcow2")
		d.Path, d.Format = overlay, "qcow2"
		if _, err := os.Stat(overlay); err == nil {
			continue
		}
		if info.Format == "qcow2" {
			if err := p.checkBase(ctx, d); err != nil {
				return err
			}
		}
		if _, _, err := p.qemuImg(ctx, "create", "-q", "-f", "qcow2", "-b", d.Image, "-F", info.Format, overlay); err != nil {
			return fmt.Errorf("disk %s: linked clone: %w", d.Slot, err)
		}
	}
	return nil
}

// checkBase runs qemu-img check on a base image: exit 3 is leaked
// clusters, repaired with -r leaks; exit 2 is corruption, which no
// overlay should be built on.
func (p *Provider) checkBase(ctx context.Context, d *disk) error {
	out, code, err := p.qemuImg(ctx, "check", d.Image)
	switch code {
	case 0:
		return err
	case 3:
		if _, _, err := p.qemuImg(ctx, "check", "-r", "leaks", d.Image); err != nil {
			return fmt.Errorf("disk %s: repairing leaks: %w", d.Slot, err)
		}
		return nil
	case 2:
		said := string(out)
		var ce *labnet.CommandError
		if errors.As(err, &ce) {
			said += "\n" + ce.Stderr
		}
		return fmt.Errorf("disk %s: base image %s is corrupt; repair it (qemu-img check -r all) or use another: %s", d.Slot, d.Image, strings.TrimSpace(said))
	}
	return fmt.Errorf("disk %s: %w", d.Slot, err)
}
