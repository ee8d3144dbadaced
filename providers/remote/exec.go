package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/labform/labform/internal/agent"
	"github.com/labform/labform/internal/console"
	"github.com/labform/labform/providers"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// Operating nodes on a host: exec and console run `labform agent exec` in
// an SSH session of their own, with the caller's stdio (and a terminal
// when asked), and Describe gives the names the host's providers use.

var (
	_ providers.Execer        = (*Proxy)(nil)
	_ providers.Describer     = (*Proxy)(nil)
	_ providers.ConsoleOpener = (*Proxy)(nil)
)

// hostLab is the lab as the providers on the host see it, with its files
// under the agent's directory there (known once connected).
func (p *Proxy) hostLab(l providers.Lab) providers.Lab {
	labs := ""
	if dir := p.conn.dir(); dir != "" {
		labs = filepath.Join(dir, "labs")
	}
	hl := agent.HostLab(agent.Lab{Name: l.Name, Dir: l.Dir, ID: l.Key(), Host: p.host.Name}, labs, p.baseName())
	hl.IDOf = l.IDOf
	return hl
}

// Describe gives the names of the object on its host, from the host's lab:
// they derive from the lab's and the object's IDs, so no call is made.
func (p *Proxy) Describe(req providers.DescribeRequest) providers.Description {
	d, ok := p.base.(providers.Describer)
	if !ok {
		return providers.Description{}
	}
	p.ensure() // the agent's directory, where the host's files are
	req.Lab = p.hostLab(req.Lab)
	desc := d.Describe(req)
	desc.Host = p.host.Name
	if desc.Console != nil && desc.Console.Command != "" {
		desc.Console.Command = fmt.Sprintf("on host %s: %s", p.host.Name, desc.Console.Command)
	}
	return desc
}

// stashExec hands the agent the command to run and returns the token
// `labform agent exec` takes it by.
func (p *Proxy) stashExec(req providers.DescribeRequest, argv []string, tty bool) (string, error) {
	if err := p.ensure(); err != nil {
		return "", err
	}
	lab := p.labInfo()
	p.mu.Lock()
	cfg := p.config
	p.mu.Unlock()
	val, err := agent.Encode(req.Value)
	if err != nil {
		return "", err
	}
	var token string
	err = p.conn.call("StashExec", agent.ExecArgs{
		Configure: agent.ConfigureArgs{Provider: p.baseName(), Config: cfg, Lab: agent.Lab{Name: lab.Name, Dir: lab.Dir, ID: lab.Key(), Host: p.host.Name}},
		IDs:       p.ids([]string{req.Addr}, req.Value), Type: req.Type, Addr: req.Addr, ID: req.ID, Value: val, Private: req.Private,
		Argv: argv, TTY: tty}, &token)
	return token, err
}

// Exec runs the command in the node on its host. A context ended before
// the command closes the session: the agent, hung up, kills the command
// in the node.
func (p *Proxy) Exec(ctx context.Context, req providers.ExecRequest) (int, error) {
	if _, ok := p.base.(providers.Execer); !ok {
		return 1, fmt.Errorf("the %s provider cannot run commands in its nodes", p.baseName())
	}
	// A session slot first: a request stashed and never taken would stay
	// in the agent's directory.
	release, err := p.conn.acquireSession(ctx)
	if err != nil {
		return 1, err
	}
	defer release()
	token, err := p.stashExec(req.DescribeRequest, req.Argv, req.TTY)
	if err != nil {
		return 1, err
	}
	sess, err := p.conn.session()
	if err != nil {
		return 1, err
	}
	defer sess.Close()
	if req.TTY {
		rows, cols := 24, 80
		if f, ok := req.Stdin.(*os.File); ok {
			if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
				rows, cols = int(ws.Row), int(ws.Col)
			}
			if restore, err := console.MakeRaw(int(f.Fd())); err == nil {
				defer restore()
			}
		}
		if err := sess.RequestPty(termName(), rows, cols, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
			return 1, p.conn.errorf("a terminal for exec: %v", err)
		}
		if f, ok := req.Stdin.(*os.File); ok {
			// The user's terminal resized: the command's follows.
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, syscall.SIGWINCH)
			defer func() {
				signal.Stop(winch)
				close(winch) // no send after Stop: ends the goroutine
			}()
			go func() {
				for range winch {
					if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
						sess.WindowChange(int(ws.Row), int(ws.Col))
					}
				}
			}()
		}
	}
	// ssh copies stdout and stderr in goroutines of their own: one writer
	// given for both (a check's output) is written to one at a time.
	stdout, errw := orDiscard(req.Stdout), orDiscard(req.Stderr)
	if req.Stdout == req.Stderr {
		stdout = &lockedWriter{w: stdout}
		errw = stdout
	}
	stderr := &markerFilter{w: errw}
	sess.Stdout, sess.Stderr = stdout, stderr
	if req.TTY {
		// On a terminal the agent's stderr is the terminal: its error
		// line comes with the output, on stdout.
		stderr = &markerFilter{w: stdout}
		sess.Stdout, sess.Stderr = stderr, stderr
	}
	if req.Stdin != nil {
		// A copy the session's end can stop: ssh's own would wait for
		// the caller's stdin (a terminal) to close.
		in, err := sess.StdinPipe()
		if err != nil {
			return 1, err
		}
		go func() {
			io.Copy(in, req.Stdin)
			in.Close()
		}()
	}
	if err := sess.Start(p.conn.agentCommand("exec " + token)); err != nil {
		return 1, p.conn.errorf("starting exec: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Hung up, the agent kills the command in the node. A connection
		// that died with the host may never say the session ended.
		sess.Signal(ssh.SIGHUP)
		sess.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		stderr.flush()
		return -1, fmt.Errorf("on host %s: %w", p.host.Name, ctx.Err())
	}
	stderr.flush()
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.ExitStatus() == agent.ExecFailed && stderr.message != "":
		return ee.ExitStatus(), errors.New(stderr.message)
	case errors.As(err, &ee):
		return ee.ExitStatus(), nil
	}
	return 1, p.conn.errorf("exec: %v", err)
}

// OpenConsole opens the node's console on its host: a container's shell
// on a terminal (exec's), a VM's TCP or unix-socket console through the
// SSH connection.
func (p *Proxy) OpenConsole(ctx context.Context, req providers.ConsoleRequest) (io.ReadWriteCloser, error) {
	if _, ok := p.base.(providers.ConsoleOpener); ok {
		return p.shellConsole(req)
	}
	d := p.Describe(req.DescribeRequest)
	if d.Console == nil {
		return nil, fmt.Errorf("%s has no console", req.Addr)
	}
	network := map[string]string{"telnet": "tcp", "pipe": "unix"}[d.Console.Kind]
	if network == "" {
		return nil, fmt.Errorf("%s's console is %s, a graphical one: open it on host %s with %s", req.Addr, d.Console.Kind, p.host.Name, d.Console.Command)
	}
	if err := p.ensure(); err != nil {
		return nil, err
	}
	client, err := p.conn.sshClient()
	if err != nil {
		return nil, err
	}
	c, err := client.Dial(network, d.Console.Address)
	if err != nil {
		return nil, p.conn.errorf("connecting to %s's console at %s: %v (is the node running? labform status shows it)", req.Addr, d.Console.Address, err)
	}
	return c, nil
}

// shellConsole is a container's console: its shell on a terminal, in a
// session that closing ends.
func (p *Proxy) shellConsole(req providers.ConsoleRequest) (io.ReadWriteCloser, error) {
	release, err := p.conn.acquireSession(context.Background())
	if err != nil {
		return nil, err
	}
	token, err := p.stashExec(req.DescribeRequest, nil, true)
	if err != nil {
		release()
		return nil, err
	}
	sess, err := p.conn.session()
	if err != nil {
		release()
		return nil, err
	}
	rows, cols := int(req.Rows), int(req.Cols)
	if rows == 0 || cols == 0 {
		rows, cols = 24, 80
	}
	in, err1 := sess.StdinPipe()
	out, err2 := sess.StdoutPipe()
	if err1 != nil || err2 != nil {
		sess.Close()
		return nil, fmt.Errorf("the console session's stdio: %v %v", err1, err2)
	}
	if err := sess.RequestPty(termName(), rows, cols, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		sess.Close()
		return nil, p.conn.errorf("a terminal for the console: %v", err)
	}
	if err := sess.Start(p.conn.agentCommand("exec " + token)); err != nil {
		sess.Close()
		return nil, p.conn.errorf("starting the console's shell: %v", err)
	}
	rw := &sessionRW{Reader: out, in: in, sess: sess, ended: make(chan struct{})}
	go func() {
		sess.Wait()
		close(rw.ended)
		release()
	}()
	return rw, nil
}

// sessionRW is a session's stdio as one stream; Close ends the session.
type sessionRW struct {
	io.Reader
	in    io.WriteCloser
	sess  *ssh.Session
	once  sync.Once
	ended chan struct{} // closed when the shell has exited
}

func (s *sessionRW) Write(b []byte) (int, error) { return s.in.Write(b) }
func (s *sessionRW) Close() error {
	s.once.Do(func() {
		select {
		case <-s.ended:
		case <-time.After(200 * time.Millisecond):
			// Still running: the user detached; the shell is hung up.
			s.sess.Signal(ssh.SIGHUP)
		}
		s.in.Close()
		s.sess.Close()
	})
	return nil
}

// termName is the TERM the remote terminal gets: the local one, so that
// full-screen programs draw for the terminal that shows them.
func termName() string {
	if t := os.Getenv("TERM"); t != "" {
		return t
	}
	return "xterm"
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// orDiscard stands in for a stream the caller did not give: the SSH
// session copies every stream somewhere.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// markerFilter passes a command's stderr on, except the agent's own error
// line (after agent.ErrorMarker), which it keeps in message.
type markerFilter struct {
	w       io.Writer
	held    []byte // a tail that may be the start of the marker
	message string
	seen    bool
}

// Write passes b on up to the marker. The marker can arrive split across
// writes, so a tail that could be its start is held until the next write
// shows what it is.
func (m *markerFilter) Write(b []byte) (int, error) {
	n := len(b)
	if m.seen {
		m.message += string(b)
		return n, nil
	}
	data := append(m.held, b...)
	m.held = nil
	if i := bytes.Index(data, []byte(agent.ErrorMarker)); i >= 0 {
		m.seen = true
		m.message = string(data[i+len(agent.ErrorMarker):])
		data = data[:i]
	} else {
		// Hold back what could be the marker's beginning.
		for k := min(len(agent.ErrorMarker)-1, len(data)); k > 0; k-- {
			if bytes.HasSuffix(data, []byte(agent.ErrorMarker[:k])) {
				m.held = append([]byte(nil), data[len(data)-k:]...)
				data = data[:len(data)-k]
				break
			}
		}
	}
	if len(data) > 0 && m.w != nil {
		m.w.Write(data)
	}
	return n, nil
}

// flush writes what was held back, and trims the message.
func (m *markerFilter) flush() {
	if len(m.held) > 0 && m.w != nil {
		m.w.Write(m.held)
	}
	m.held = nil
	m.message = strings.TrimSpace(m.message)
}

var _ providers.NetnsProber = (*Proxy)(nil)

// PingFrom pings from a node's namespace on its host, through the agent.
func (p *Proxy) PingFrom(ctx context.Context, nsPath string, ip net.IP, count int, timeout time.Duration) (int, int, string, error) {
	var r agent.ProbeReply
	err := p.probe(agent.ProbeArgs{Kind: "ping", Netns: nsPath, To: ip.String(), Count: count, Timeout: timeout}, &r)
	return r.Sent, r.Received, r.Note, err
}

// DialFrom connects from a node's namespace on its host, through the agent.
func (p *Proxy) DialFrom(ctx context.Context, nsPath, host string, port int, timeout time.Duration) (string, error) {
	var r agent.ProbeReply
	err := p.probe(agent.ProbeArgs{Kind: "tcp", Netns: nsPath, To: host, Port: port, Timeout: timeout}, &r)
	return r.Outcome, err
}

// probe runs a check's ping or TCP dial on the node's host: a node's
// namespace exists only there, so the probe must start there too.
func (p *Proxy) probe(a agent.ProbeArgs, r *agent.ProbeReply) error {
	if err := p.ensure(); err != nil {
		return err
	}
	if err := p.conn.call("Probe", a, r); err != nil {
		return fmt.Errorf("on host %s: %w", p.host.Name, err)
	}
	return nil
}
