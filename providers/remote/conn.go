package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labform/labform/internal/agent"
	"github.com/labform/labform/providers"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// AgentBinaryEnv names the environment variable that gives the labform
// binary to copy to hosts; without it, the running executable is copied
// (tests, whose executable is the test binary, set it).
const AgentBinaryEnv = "LABFORM_AGENT_BINARY"

// DialTimeout bounds the TCP connection and the SSH handshake.
var DialTimeout = 10 * time.Second

// conn is the one connection to a host: an SSH client and the agent
// started in one of its sessions.
type conn struct {
	host providers.Host

	mu     sync.Mutex
	client *ssh.Client
	rpc    *rpc.Client
	stderr *tailBuffer
	err    error // why the host cannot be reached (kept: one dial per run)
	// configured lists the providers configured on the agent, by name.
	configured map[string]bool
	agentDir   string // the agent's directory on the host (Ping's answer)
	// synced is the lab directory sent to this host in this connection.
	syncMu sync.Mutex
	synced string
	// sessions bounds the sessions exec and console open beside the
	// agent's: sshd refuses more than MaxSessions (10 by default) on one
	// connection.
	sessions chan struct{}
}

// maxExecSessions leaves room for the agent's own session under sshd's
// default MaxSessions of 10.
const maxExecSessions = 8

// acquireSession waits for a free session slot; release gives it back.
func (c *conn) acquireSession(ctx context.Context) (release func(), err error) {
	select {
	case c.sessions <- struct{}{}:
		return func() { <-c.sessions }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dir is the agent's directory on the host, "" before it answered.
func (c *conn) dir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agentDir
}

var (
	connsMu sync.Mutex
	conns   = map[providers.Host]*conn{}
)

// connFor returns the connection to h, shared by its providers.
func connFor(h providers.Host) *conn {
	connsMu.Lock()
	defer connsMu.Unlock()
	c, ok := conns[h]
	if !ok {
		c = &conn{host: h, configured: map[string]bool{}, sessions: make(chan struct{}, maxExecSessions)}
		conns[h] = c
	}
	return c
}

// CloseAll closes every connection (the agents exit with their sessions).
func CloseAll() {
	connsMu.Lock()
	defer connsMu.Unlock()
	for h, c := range conns {
		c.close()
		delete(conns, h)
	}
}

// close drops the SSH client and the RPC client, and leaves the
// connection able to dial again: the agent ends with its session.
func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rpc != nil {
		c.rpc.Close()
	}
	if c.client != nil {
		c.client.Close()
	}
	c.rpc, c.client = nil, nil
}

// errorf says which host failed and how it is reached.
func (c *conn) errorf(format string, a ...any) error {
	return fmt.Errorf("host %s (ssh %s): %s", c.host.Name, c.host.SSH, fmt.Sprintf(format, a...))
}

// call makes one RPC to the agent, connecting first when needed. A lost
// connection fails this call with what the agent last wrote; the next call
// connects again.
func (c *conn) call(method string, args, reply any) error {
	cl, err := c.connect()
	if err != nil {
		return err
	}
	if err := cl.Call(agent.Service+"."+method, args, reply); err != nil {
		if err == rpc.ErrShutdown || err == io.ErrUnexpectedEOF || err == io.EOF {
			c.mu.Lock()
			if c.rpc == cl {
				c.rpc.Close()
				c.client.Close()
				c.rpc, c.client, c.configured = nil, nil, map[string]bool{}
			}
			tail := strings.TrimSpace(c.stderr.String())
			c.mu.Unlock()
			if tail != "" {
				return c.errorf("the connection to the agent was lost: %v; the agent wrote: %s", err, tail)
			}
			return c.errorf("the connection to the agent was lost: %v", err)
		}
		return err
	}
	return nil
}

// connect dials the host and starts the agent, once per run: a host that
// cannot be reached fails every call with the same error.
func (c *conn) connect() (*rpc.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rpc != nil {
		return c.rpc, nil
	}
	if c.err != nil {
		return nil, c.err
	}
	if err := c.dial(); err != nil {
		c.err = err
		return nil, err
	}
	return c.rpc, nil
}

// expandHome expands a leading ~ in a path of the host block: lab files
// are shared between people, and ~/.ssh/id_ed25519 is how each of them
// names their own key.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// sshTarget splits user@address[:port].
func sshTarget(s string) (user, hostport string, err error) {
	user, hp, ok := strings.Cut(s, "@")
	if !ok || user == "" || hp == "" {
		return "", "", fmt.Errorf("ssh %q is not USER@ADDRESS[:PORT]", s)
	}
	if _, _, err := net.SplitHostPort(hp); err != nil {
		hp = net.JoinHostPort(hp, "22")
	}
	return user, hp, nil
}

// dial connects over SSH with the host block's key, checking the host's
// key against known_hosts (never asking: a run in CI has nobody to ask),
// and starts the agent, copying this binary first when the host has no
// good copy.
func (c *conn) dial() error {
	user, hp, err := sshTarget(c.host.SSH)
	if err != nil {
		return c.errorf("%v", err)
	}
	key, err := os.ReadFile(expandHome(c.host.IdentityFile))
	if err != nil {
		return c.errorf("reading the identity file: %v", err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return c.errorf("the identity file %s: %v", c.host.IdentityFile, err)
	}
	// Host keys are always checked against known_hosts; nothing asks.
	hostKeys, err := knownhosts.New(expandHome(c.host.KnownHosts))
	if err != nil {
		return c.errorf("reading known_hosts: %v", err)
	}
	client, err := ssh.Dial("tcp", hp, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys, Timeout: DialTimeout})
	if err != nil {
		return c.errorf("%v", err)
	}
	// The agent is started where the host's copy of this binary is known
	// good; where it is not, the session ends with needCopy, the binary is
	// copied, and the agent is started again.
	cl, err := c.startAgent(client)
	if errors.Is(err, errNeedCopy) {
		if err = c.install(client); err == nil {
			cl, err = c.startAgent(client)
		}
	}
	if err != nil {
		client.Close()
		return err
	}
	c.client, c.rpc = client, cl
	return nil
}

// needCopy is the exit status of the agent's session when the host has
// no good copy of this binary.
const needCopy = 97

var errNeedCopy = errors.New("the host has no copy of this labform")

// startAgent starts the agent in a new session and checks that it
// answers.
func (c *conn) startAgent(client *ssh.Client) (*rpc.Client, error) {
	_, hash, err := localBinary()
	if err != nil {
		return nil, c.errorf("finding labform's own binary: %v", err)
	}
	bin, record := binaryPaths(hash)
	sess, err := client.NewSession()
	if err != nil {
		return nil, c.errorf("opening a session: %v", err)
	}
	stdin, err1 := sess.StdinPipe()
	stdout, err2 := sess.StdoutPipe()
	if err1 != nil || err2 != nil {
		sess.Close()
		return nil, c.errorf("the session's stdio: %v %v", err1, err2)
	}
	c.stderr = &tailBuffer{max: 4096}
	sess.Stderr = c.stderr
	cmd := fmt.Sprintf(`if [ -x %s ] && [ "$(cat %s 2>/dev/null)" = %s ]; then exec %s agent -dir %s; fi; exit %d`,
		bin, record, hash, bin, shq(agentDir+"/hosts/"+c.host.Name), needCopy)
	if err := sess.Start(cmd); err != nil {
		sess.Close()
		return nil, c.errorf("starting the agent (%s): %v", cmd, err)
	}
	cl := rpc.NewClient(struct {
		io.Reader
		io.WriteCloser
	}{stdout, stdin})
	var pong agent.PingReply
	if err := cl.Call(agent.Service+".Ping", agent.Empty{}, &pong); err != nil {
		cl.Close()
		werr := sess.Wait()
		var ee *ssh.ExitError
		if errors.As(werr, &ee) && ee.ExitStatus() == needCopy {
			return nil, errNeedCopy
		}
		return nil, c.errorf("the agent does not answer: %v; it wrote: %s", err, strings.TrimSpace(c.stderr.String()))
	}
	c.agentDir = pong.Dir // connect holds c.mu
	return cl, nil
}

// session opens a new session on the host's connection (made first when
// needed).
func (c *conn) session() (*ssh.Session, error) {
	client, err := c.sshClient()
	if err != nil {
		return nil, err
	}
	sess, err := client.NewSession()
	if err != nil {
		return nil, c.errorf("opening a session: %v", err)
	}
	return sess, nil
}

// sshClient is the connection's SSH client, connected when needed.
func (c *conn) sshClient() (*ssh.Client, error) {
	if _, err := c.connect(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		return nil, c.errorf("the connection to the agent was lost")
	}
	return c.client, nil
}

// agentCommand is the shell command that runs `labform agent SUB` with
// the host's copy of this binary (which connecting checked or copied).
func (c *conn) agentCommand(sub string) string {
	_, hash, _ := localBinary()
	bin, _ := binaryPaths(hash)
	sub, rest, _ := strings.Cut(sub, " ")
	return fmt.Sprintf("exec %s agent %s -dir %s %s", bin, sub, shq(agentDir+"/hosts/"+c.host.Name), rest)
}

// binaryPaths are the host's copy of the binary with the given hash and
// the record of its checked hash, for the remote shell.
func binaryPaths(hash string) (bin, record string) {
	return shq(agentDir + "/labform-" + hash[:16]), shq(agentDir + "/labform-" + hash[:16] + ".sha256")
}

// agentDir is where agents live on hosts, under the SSH user's home.
const agentDir = "$HOME/.cache/labform/agent"

// shq quotes for the remote shell, leaving $HOME to it.
func shq(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

var (
	binMu    sync.Mutex
	binStamp string // path, size and time of the binary hashed
	binHash  string
)

// localBinary is the labform binary to run on hosts, and its hash.
func localBinary() (string, string, error) {
	path := os.Getenv(AgentBinaryEnv)
	if path == "" {
		var err error
		if path, err = os.Executable(); err != nil {
			return "", "", err
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", "", err
	}
	stamp := fmt.Sprintf("%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano())
	binMu.Lock()
	defer binMu.Unlock()
	if stamp == binStamp {
		return path, binHash, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	h := sha256.Sum256(data)
	binStamp, binHash = stamp, hex.EncodeToString(h[:])
	return path, binHash, nil
}

// install copies this labform binary into the host's cache directory
// and checks it there with sha256sum; the hash is then recorded beside it
// (labform-HASH.sha256), which later sessions compare in the shell before
// starting the agent instead of hashing the binary again.
func (c *conn) install(client *ssh.Client) error {
	path, hash, err := localBinary()
	if err != nil {
		return c.errorf("finding labform's own binary to copy: %v", err)
	}
	remote, record := binaryPaths(hash)
	// One copy at a time from this process: hosts that share a
	// filesystem (simulated ones) would copy the same file at once.
	installMu.Lock()
	defer installMu.Unlock()
	if out, err := run(client, fmt.Sprintf("cat %s", record), nil); err == nil && strings.TrimSpace(out) == hash {
		return nil // another host sharing this filesystem copied it
	}
	f, err := os.Open(path)
	if err != nil {
		return c.errorf("%v", err)
	}
	defer f.Close()
	script := fmt.Sprintf(`set -e; d=%s; mkdir -p "$d"; t=$(mktemp "$d/.copy.XXXXXX"); cat > "$t"; chmod 755 "$t"; mv -f "$t" %s`, shq(agentDir), remote)
	if out, err := run(client, script, f); err != nil {
		return c.errorf("copying labform to the host: %v: %s", err, strings.TrimSpace(out))
	}
	out, err := run(client, fmt.Sprintf("sha256sum %s", remote), nil)
	if err != nil || !strings.HasPrefix(out, hash) {
		return c.errorf("the copy of labform on the host has another hash than this one (%s): sha256sum said %q", hash[:16], strings.TrimSpace(out))
	}
	if out, err := run(client, fmt.Sprintf(`t=$(mktemp %s.XXXXXX) && echo %s > "$t" && mv -f "$t" %s`, record, hash, record), nil); err != nil {
		return c.errorf("recording the copy's hash: %v: %s", err, strings.TrimSpace(out))
	}
	return nil
}

var installMu sync.Mutex

// run runs a command in a new session and returns its output.
func run(client *ssh.Client, cmd string, stdin io.Reader) (string, error) {
	sess, err := client.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	sess.Stdin = stdin
	var b tailBuffer
	b.max = 1 << 16
	sess.Stdout, sess.Stderr = &b, &b
	err = sess.Run(cmd)
	return b.String(), err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

// Write keeps only the tail: an agent that dies writes its reason last,
// and a chatty one must not grow the buffer without end.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
