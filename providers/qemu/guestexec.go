package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

var _ providers.Execer = (*Provider)(nil)

// guestPoll is how often exec asks the guest agent whether the command
// has ended.
const guestPoll = 50 * time.Millisecond

// Exec runs one command in the guest through its guest agent (qemu-ga on
// the virtio-serial channel guest_agent = true adds): guest-exec with the
// caller's stdin as input, then guest-exec-status until it exits, whose
// output and exit code are the command's. A VM without the channel gets
// an error that says how to add it and points at the console.
func (p *Provider) Exec(ctx context.Context, req providers.ExecRequest) (int, error) {
	if !hasGuestAgent(req.Value) {
		return 1, fmt.Errorf("%s has no guest agent channel (guest_agent = false), so labform cannot run commands in it: set guest_agent = true (a restart) and run qemu-ga in the guest, or use its serial console: labform console %s", req.Addr, req.Addr)
	}
	if st := providers.StateOf(req.Value); st != providers.Running {
		return 1, fmt.Errorf("%s is %s: exec needs it running (apply starts it again: a node that stopped on its own shows as drift, and one the lab stops needs state = \"running\")", req.Addr, st)
	}
	if len(req.Argv) == 0 {
		return 1, fmt.Errorf("a VM runs one command at a time through its guest agent, with no terminal: give one (labform exec %s -- uname -a), or use labform console %s for a shell", req.Addr, req.Addr)
	}
	var input []byte
	if req.Stdin != nil && !req.TTY {
		var err error
		if input, err = io.ReadAll(req.Stdin); err != nil {
			return 1, err
		}
	}
	sock := filepath.Join(runDirOf(req.Lab.IDFor(req.ID, req.Addr)), qgaFile)
	g, err := dialGuestAgent(ctx, sock, p.timeout)
	if err != nil {
		return 1, fmt.Errorf("%s: the guest agent at %s does not answer (%w): is qemu-ga running in the guest? labform console %s reaches the guest without it", req.Addr, sock, err, req.Addr)
	}
	defer g.close()
	args := map[string]interface{}{"path": req.Argv[0], "arg": req.Argv[1:], "capture-output": true}
	if len(input) > 0 {
		args["input-data"] = base64.StdEncoding.EncodeToString(input)
	}
	var started struct {
		Pid int `json:"pid"`
	}
	if err := g.call("guest-exec", args, &started); err != nil {
		return 1, fmt.Errorf("%s: guest-exec %s: %w", req.Addr, req.Argv[0], err)
	}
	for {
		var st struct {
			Exited   bool   `json:"exited"`
			ExitCode int    `json:"exitcode"`
			Signal   int    `json:"signal"`
			OutData  string `json:"out-data"`
			ErrData  string `json:"err-data"`
		}
		if err := g.call("guest-exec-status", map[string]interface{}{"pid": started.Pid}, &st); err != nil {
			return 1, fmt.Errorf("%s: guest-exec-status %d: %w", req.Addr, started.Pid, err)
		}
		if st.Exited {
			for _, o := range []struct {
				data string
				w    io.Writer
			}{{st.OutData, req.Stdout}, {st.ErrData, req.Stderr}} {
				b, err := base64.StdEncoding.DecodeString(o.data)
				if err != nil {
					return 1, fmt.Errorf("%s: the guest agent's output is not base64: %w", req.Addr, err)
				}
				o.w.Write(b)
			}
			if st.Signal != 0 {
				return 128 + st.Signal, nil
			}
			return st.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 1, ctx.Err()
		case <-time.After(guestPoll):
		}
	}
}

// guestAgent is a connection to qemu-ga: QMP's wire format without a
// greeting or capabilities; guest-sync first discards what an earlier
// client left unread.
type guestAgent struct {
	conn net.Conn
	r    *bufio.Reader
	stop func() bool
}

// dialGuestAgent connects to qemu-ga and syncs: qemu-ga's socket keeps
// replies an earlier client never read, so guest-sync with a fresh id,
// and replies up to it are discarded. Its first deadline is short, since
// a guest without qemu-ga accepts the connection and never answers.
func dialGuestAgent(ctx context.Context, path string, timeout time.Duration) (*guestAgent, error) {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	dl := time.Now().Add(timeout)
	d := net.Dialer{Deadline: dl}
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(dl)
	g := &guestAgent{conn: conn, r: bufio.NewReader(conn), stop: context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })}
	// A guest without qemu-ga never answers: a short first deadline.
	conn.SetDeadline(time.Now().Add(min(timeout, 5*time.Second)))
	id := time.Now().UnixNano() % 1e9
	var got int64
	if err := g.call("guest-sync", map[string]interface{}{"id": id}, &got); err != nil {
		g.close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = errors.New("no answer to guest-sync")
		}
		return nil, err
	}
	for got != id { // a reply an earlier client left
		if err := g.read(&got); err != nil {
			g.close()
			return nil, err
		}
	}
	conn.SetDeadline(dl)
	return g, nil
}

func (g *guestAgent) close() {
	g.stop()
	g.conn.Close()
}

// call sends one command and reads its reply. qemu-ga answers in order
// and has no ids, so calls on one connection must not overlap.
func (g *guestAgent) call(cmd string, args interface{}, ret interface{}) error {
	b, _ := json.Marshal(map[string]interface{}{"execute": cmd, "arguments": args})
	if _, err := g.conn.Write(append(b, '\n')); err != nil {
		return err
	}
	return g.read(ret)
}

// read reads one reply: its return value into ret, or its error.
func (g *guestAgent) read(ret interface{}) error {
	for {
		line, err := g.r.ReadBytes('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *qmpError       `json:"error"`
		}
		if err := json.Unmarshal(line, &reply); err != nil {
			return fmt.Errorf("the guest agent answered %q: %w", line, err)
		}
		if reply.Error != nil {
			return fmt.Errorf("%s: %s", reply.Error.Class, reply.Error.Desc)
		}
		if reply.Return == nil {
			continue // an event
		}
		return json.Unmarshal(reply.Return, ret)
	}
}

// hasGuestAgent reads guest_agent; a value from before the attribute
// existed (null) has none.
func hasGuestAgent(v cty.Value) bool {
	a := v.GetAttr("guest_agent")
	return a.IsKnown() && !a.IsNull() && a.True()
}
