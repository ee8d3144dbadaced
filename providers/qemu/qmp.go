package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/labform/labform/providers/labnet"
)

// qmp is a QMP connection: one command at a time, replies matched by id,
// events (which QEMU interleaves, POWERDOWN after system_powerdown for
// one) skipped.
type qmp struct {
	conn net.Conn
	r    *bufio.Reader
	id   int
	path string
	stop func() bool // ends the watch on the dial's context
}

// qmpError is the error object of a QMP reply. do passes its class and
// text on as QEMU wrote them: they say what QEMU refused better than a
// paraphrase could.
type qmpError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

// dialQMP connects and leaves capabilities negotiation mode. The whole
// connection is bounded: its socket's deadline is timeout (the provider's
// tool_timeout; 0: labnet's default) from now, or ctx's deadline if that
// comes first, so a QEMU that accepts and never answers cannot hold
// labform; and ctx's end (a second Ctrl-C) ends any read or write at once.
func dialQMP(ctx context.Context, path string, timeout time.Duration) (*qmp, error) {
	if timeout <= 0 {
		timeout = labnet.DefaultToolTimeout
	}
	dl := time.Now().Add(timeout)
	if cdl, ok := ctx.Deadline(); ok && cdl.Before(dl) {
		dl = cdl
	}
	d := net.Dialer{Deadline: dl}
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(dl)
	q := &qmp{conn: conn, r: bufio.NewReader(conn), path: path,
		stop: context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })}
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	line, err := q.r.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &greeting)
	}
	if err != nil || greeting.QMP == nil {
		q.Close()
		return nil, fmt.Errorf("QMP %s: no greeting (%v): %q", path, err, line)
	}
	if _, err := q.do("qmp_capabilities", nil); err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

// Close ends the watch on the dial's context first, so that a context
// ending later does not touch a connection that is gone.
func (q *qmp) Close() error {
	q.stop()
	return q.conn.Close()
}

// do runs one command and returns its "return" value.
func (q *qmp) do(cmd string, args interface{}) (json.RawMessage, error) {
	q.id++
	req := map[string]interface{}{"execute": cmd, "id": q.id}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("QMP %s on %s: %w", cmd, q.path, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("QMP %s on %s: %w", cmd, q.path, err)
		}
		var resp struct {
			Event  string          `json:"event"`
			ID     int             `json:"id"`
			Return json.RawMessage `json:"return"`
			Error  *qmpError       `json:"error"`
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return nil, fmt.Errorf("QMP %s on %s: unreadable reply %q", cmd, q.path, line)
		}
		if resp.Event != "" || resp.ID != q.id {
			continue
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("QMP %s on %s: %s: %s", cmd, q.path, resp.Error.Class, resp.Error.Desc)
		}
		return resp.Return, nil
	}
}

// status is query-status's answer, e.g. running, paused, prelaunch.
func (q *qmp) status() (string, error) {
	raw, err := q.do("query-status", nil)
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	err = json.Unmarshal(raw, &st)
	return st.Status, err
}

// quit asks QEMU to exit. The connection may end in a reset rather than a
// reply, so only a failure to send counts; the caller waits for the
// process to go.
func (q *qmp) quit() error {
	q.id++
	if _, err := fmt.Fprintf(q.conn, "{\"execute\": \"quit\", \"id\": %d}\n", q.id); err != nil {
		return fmt.Errorf("QMP quit on %s: %w", q.path, err)
	}
	q.r.ReadBytes('\n') // the reply, an event or the reset: all mean it is going
	return nil
}

// memoryMiB is the guest's base memory in MiB (query-memory-size-summary).
func (q *qmp) memoryMiB() (int, error) {
	raw, err := q.do("query-memory-size-summary", nil)
	if err != nil {
		return 0, err
	}
	var r struct {
		Base int64 `json:"base-memory"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, err
	}
	return int(r.Base >> 20), nil
}
