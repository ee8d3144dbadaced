package virtualbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labform/labform/providers/labnet"
)

// vbox runs VBoxManage. A call that fails because another session holds
// the machine's lock is retried with backoff: the lock is transient (a
// GUI opening, another VBoxManage). The provider never sends what a
// VM's state forbids (modifyvm to a running VM), so a lock error is
// someone else's session. Every other failure is returned with what was
// run and what VirtualBox said.
type vbox struct {
	path    string
	retries int
	backoff time.Duration
	timeout time.Duration // tool_timeout, per call; 0 is labnet's default
}

// run calls VBoxManage through labnet.Run: bounded by tool_timeout, in a
// process group of its own, stdout apart from stderr.
func (v vbox) run(ctx context.Context, args ...string) (string, error) {
	wait := v.backoff
	for attempt := 0; ; attempt++ {
		out, err := labnet.Run(ctx, labnet.Tool{Name: v.path, Args: args, Timeout: v.timeout})
		if err == nil {
			return string(out), nil
		}
		var ce *labnet.CommandError
		if !errors.As(err, &ce) { // never ran: not found, not executable
			return "", fmt.Errorf("cannot run %s: %v (is VirtualBox installed? the provider's vboxmanage setting names the program)", v.path, err)
		}
		if ce.TimedOut > 0 || ce.Interrupted {
			return "", err
		}
		if isLockBusy(ce.Stderr) && attempt < v.retries {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return "", ctx.Err()
			}
			wait *= 2
			continue
		}
		return "", &vboxError{Args: args, Path: v.path, Err: ce.Err, Msg: ce.Stderr}
	}
}

func isLockBusy(msg string) bool {
	return strings.Contains(msg, "is already locked for a session") || strings.Contains(msg, "The object is not ready")
}

type vboxError struct {
	Args []string
	Path string
	Err  error
	Msg  string
}

func (e *vboxError) Error() string {
	return fmt.Sprintf("%s %s: %v: %s", e.Path, strings.Join(e.Args, " "), e.Err, e.Msg)
}

func (e *vboxError) notFound() bool { return strings.Contains(e.Msg, "VBOX_E_OBJECT_NOT_FOUND") }

// machineInfo is showvminfo --machinereadable: key="value" lines (numbers
// come without quotes).
type machineInfo map[string]string

func parseMachineReadable(out string) machineInfo {
	info := machineInfo{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		k = strings.Trim(k, `"`)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		info[k] = v
	}
	return info
}

func (i machineInfo) int(k string) int {
	n, _ := strconv.Atoi(i[k])
	return n
}

// snapshots lists the machine's snapshot names (SnapshotName,
// SnapshotName-1, SnapshotName-1-1, ...).
func (i machineInfo) snapshots() []string {
	var out []string
	for k, v := range i {
		if strings.HasPrefix(k, "SnapshotName") {
			out = append(out, v)
		}
	}
	return out
}

// systemProperties parses list systemproperties ("Name:   value" lines).
func systemProperties(out string) map[string]string {
	props := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			props[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return props
}
