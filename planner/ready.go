package planner

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labform/labform/config"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/labnet"
	"github.com/zclconf/go-cty/cty"
)

// ReadyHook is implemented by hooks that show a ready gate's progress.
type ReadyHook interface {
	// Waiting is called every progressEvery while a node's ready
	// conditions do not all hold yet; pending says which.
	Waiting(c *Change, pending string, elapsed time.Duration)
}

// progressEvery is how often a wait for readiness says it still waits.
const progressEvery = 10 * time.Second

// consoleTail is how much of a console log the console condition reads:
// the end of it, where a fresh boot's lines are.
const consoleTail = 1 << 20

// NotReadyError is a ready gate that timed out: the node was created but
// its conditions did not all hold in time. The node is kept, tainted.
type NotReadyError struct {
	Timeout time.Duration
	// Pending describes each condition that did not hold, with the last
	// thing seen.
	Pending []string
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("created, but not ready after %s; it is kept in state as tainted, and the next plan replaces it:\n%s",
		e.Timeout, strings.Join(e.Pending, "\n"))
}

// waitReady waits for the ready block of c's resource, if it has one,
// after the provider created the object: until every condition holds, or
// its timeout passes (a *NotReadyError).
func (p *applyRun) waitReady(ctx context.Context, c *Change, prov providers.Provider, v cty.Value, id string) error {
	inst := p.desiredInstance(c)
	if inst == nil || inst.Resource.Ready == nil {
		return nil
	}
	spec, err := inst.Resource.Ready.Spec()
	if err != nil {
		return err
	}
	node := providers.DescribeRequest{Lab: p.LabInfo(c.Provider), Type: c.Type, Addr: c.Addr.String(), ID: id, Value: v, Private: c.Private}
	nsPath := ""
	if v.Type().IsObjectType() && v.Type().HasAttribute("netns") && !v.GetAttr("netns").IsNull() {
		nsPath = v.GetAttr("netns").AsString()
	} else {
		// A VM's ports are in the lab's own namespace.
		nsPath = filepath.Join(labnet.Dir, providers.LabNetns(p.labName()))
	}
	conds := readyConditions(spec, prov, node, nsPath)
	stop, hook := p.stop, p.hook
	start := time.Now()
	deadline := start.Add(spec.Timeout)
	lastProgress := start // == start: the first line, when the wait begins, is still to come
	for {
		var pending []*readyCondition
		for _, cond := range conds {
			if cond.ok {
				continue
			}
			left := time.Until(deadline)
			if left <= 0 {
				left = time.Millisecond
			}
			cond.ok, cond.seen = cond.check(ctx, min(left, max(spec.Interval, time.Second)))
			if !cond.ok {
				pending = append(pending, cond)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while waiting for it to be ready (%s)", describe(pending))
		}
		if stop.Err() != nil {
			// The node is made; only labform's own wait is cut short.
			return fmt.Errorf("stopped waiting for it to be ready (%s) at the interrupt, after %s: it is kept in state as tainted, and the next plan replaces it", describe(pending), time.Since(start).Round(time.Second))
		}
		if time.Now().After(deadline) {
			e := &NotReadyError{Timeout: spec.Timeout}
			for _, cond := range pending {
				e.Pending = append(e.Pending, fmt.Sprintf("  %s: not met; last seen: %s", cond.what, cond.seen))
			}
			return e
		}
		if h, ok := hook.(ReadyHook); ok && (lastProgress == start || time.Since(lastProgress) >= progressEvery) {
			h.Waiting(c, describe(pending), time.Since(start))
			lastProgress = time.Now()
		}
		select {
		case <-time.After(spec.Interval):
		case <-ctx.Done():
		case <-stop.Done():
		}
	}
}

// readyCondition is one condition of a ready block.
type readyCondition struct {
	what  string
	check func(ctx context.Context, timeout time.Duration) (bool, string)
	ok    bool
	seen  string
}

func describe(conds []*readyCondition) string {
	var parts []string
	for _, c := range conds {
		parts = append(parts, c.what)
	}
	return strings.Join(parts, ", ")
}

func readyConditions(spec config.ReadySpec, prov providers.Provider, node providers.DescribeRequest, nsPath string) []*readyCondition {
	logger, _ := prov.(providers.ConsoleLogger)
	ex, _ := prov.(providers.Execer)
	// A node on another host is probed there, where its namespace is.
	var prober providers.NetnsProber = labnet.LocalProber{}
	if np, ok := prov.(providers.NetnsProber); ok {
		prober = np
	}
	var conds []*readyCondition
	if spec.Console != nil {
		re := spec.Console
		conds = append(conds, &readyCondition{what: fmt.Sprintf("console %q", re.String()), check: func(context.Context, time.Duration) (bool, string) {
			if logger == nil {
				return false, fmt.Sprintf("the %s provider keeps no console log", node.Type)
			}
			path := logger.ConsoleLog(node)
			if path == "" {
				return false, "this node has no console log (a VM needs console = \"telnet\" or \"serial\")"
			}
			b, err := readTail(path, consoleTail)
			if err != nil {
				return false, err.Error()
			}
			if re.Match(b) {
				return true, ""
			}
			return false, "the console's last lines:\n" + indentLines(lastLines(string(b), 5), "    | ")
		}})
	}
	if spec.TCP != "" {
		host, port, _ := net.SplitHostPort(spec.TCP)
		var portN int
		fmt.Sscan(port, &portN)
		conds = append(conds, &readyCondition{what: "tcp " + spec.TCP, check: func(ctx context.Context, timeout time.Duration) (bool, string) {
			got, err := prober.DialFrom(ctx, nsPath, host, portN, timeout)
			if err != nil {
				return false, err.Error()
			}
			return got == "open", got
		}})
	}
	if spec.Exec != nil {
		argv := spec.Exec
		conds = append(conds, &readyCondition{what: "exec " + strings.Join(argv, " "), check: func(ctx context.Context, timeout time.Duration) (bool, string) {
			if ex == nil {
				return false, fmt.Sprintf("the %s provider cannot run commands in its nodes", node.Type)
			}
			out, code, err := providers.ExecOutput(ctx, ex, node, argv, max(timeout, 5*time.Second))
			if err != nil {
				return false, err.Error()
			}
			if code == 0 {
				return true, ""
			}
			return false, fmt.Sprintf("exit status %d; output:\n%s", code, indentLines(lastLines(string(out), 5), "    | "))
		}})
	}
	return conds
}

// readTail reads at most n bytes from the end of the file at path.
func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > n {
		if _, err := f.Seek(st.Size()-n, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, n))
}

func lastLines(s string, n int) string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r", ""), "\n")
	if s == "" {
		return "(nothing yet)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indentLines(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
