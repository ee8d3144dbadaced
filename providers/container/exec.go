package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
)

// Exec runs argv inside the running container whose object ID is id, in
// the lab whose key is labKey (providers.Lab.Key), through `runc exec` with the lab's runtime
// root. It returns what the command wrote (stdout and stderr together, in
// order) and its exit status. err is set only when the command could not
// be run at all (no such container, runc missing, the timeout passed); a
// command that ran and failed is exitCode != 0 with a nil err. runtime is
// the OCI runtime's program ("" for runc).
func Exec(ctx context.Context, runtime, labKey, id string, argv []string, timeout time.Duration) (output []byte, exitCode int, err error) {
	if runtime == "" {
		runtime = "runc"
	}
	if len(argv) == 0 {
		return nil, 0, fmt.Errorf("exec: no command")
	}
	var buf bytes.Buffer
	args := append([]string{"--root", RuntimeRoot(labKey), "exec", nameFor(id).id}, argv...)
	_, err = labnet.Run(ctx, labnet.Tool{Name: runtime, Args: args, Stdout: &buf, Stderr: &buf, Timeout: timeout})
	if err == nil {
		return buf.Bytes(), 0, nil
	}
	var ce *labnet.CommandError
	var ee *exec.ExitError
	if errors.As(err, &ce) && ce.TimedOut == 0 && !ce.Interrupted && errors.As(err, &ee) && ee.ExitCode() > 0 {
		// runc exec passes on the command's exit status; it says
		// why on its own when it could not start the command at all.
		if code := ee.ExitCode(); code != 255 || !bytes.Contains(buf.Bytes(), []byte("exec failed")) {
			return buf.Bytes(), code, nil
		}
	}
	return buf.Bytes(), -1, fmt.Errorf("%w: %s", err, tail(buf.String(), 5))
}

var _ providers.NodeAccess = (*Provider)(nil)

// Exec runs argv in the container (see the package's Exec).
func (p *Provider) Exec(ctx context.Context, req providers.NodeRequest, argv []string, timeout time.Duration) ([]byte, int, error) {
	return Exec(ctx, p.rt.path, p.lab.Key(), p.lab.IDFor(req.ID, req.Addr), argv, timeout)
}

// ConsoleLog is the container's log: its init's stdout and stderr.
func (p *Provider) ConsoleLog(req providers.NodeRequest) string {
	return filepath.Join(p.bundle(nameFor(p.lab.IDFor(req.ID, req.Addr))), "container.log")
}
