package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// fakeGuestAgent answers qemu-ga's protocol on a unix socket: guest-sync,
// guest-exec (recorded) and guest-exec-status (running once, then exited
// with what reply gives).
type fakeGuestAgent struct {
	mu    sync.Mutex
	execs []map[string]interface{}
	// reply is the status of an exited command, given the exec's
	// arguments; a nil reply answers guest-exec with an error.
	reply func(args map[string]interface{}) map[string]interface{}
	stale bool // leave a stale guest-sync reply first, as an earlier client may
}

func (f *fakeGuestAgent) serve(t *testing.T, path string) {
	os.MkdirAll(filepath.Dir(path), 0o700)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.conn(c)
		}
	}()
}

func (f *fakeGuestAgent) conn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	polls := 0
	send := func(v interface{}) { b, _ := json.Marshal(v); c.Write(append(b, '\n')) }
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req struct {
			Execute   string                 `json:"execute"`
			Arguments map[string]interface{} `json:"arguments"`
		}
		json.Unmarshal(line, &req)
		switch req.Execute {
		case "guest-sync":
			if f.stale {
				send(map[string]interface{}{"return": 12345})
			}
			send(map[string]interface{}{"return": req.Arguments["id"]})
		case "guest-exec":
			f.mu.Lock()
			f.execs = append(f.execs, req.Arguments)
			f.mu.Unlock()
			if f.reply(req.Arguments) == nil {
				send(map[string]interface{}{"error": map[string]string{"class": "GenericError", "desc": "Guest agent command failed, error was 'Failed to execute child process'"}})
				continue
			}
			send(map[string]interface{}{"return": map[string]int{"pid": 4242}})
		case "guest-exec-status":
			polls++
			if polls == 1 {
				send(map[string]interface{}{"return": map[string]interface{}{"exited": false}})
				continue
			}
			f.mu.Lock()
			last := f.execs[len(f.execs)-1]
			f.mu.Unlock()
			st := f.reply(last)
			st["exited"] = true
			send(map[string]interface{}{"return": st})
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestExec_guestAgent(t *testing.T) {
	old := RunRoot
	RunRoot = t.TempDir()
	t.Cleanup(func() { RunRoot = old })
	id := "0123456789abcdef"
	agent := &fakeGuestAgent{stale: true, reply: func(args map[string]interface{}) map[string]interface{} {
		if args["path"] == "/missing" {
			return nil
		}
		in, _ := base64.StdEncoding.DecodeString(stringOf(args["input-data"]))
		st := map[string]interface{}{"exitcode": 7, "out-data": b64("ran " + stringOf(args["path"]) + " with " + string(in)), "err-data": b64("warning\n")}
		if args["path"] == "/bin/kill-me" {
			st = map[string]interface{}{"signal": 9}
		}
		return st
	}}
	agent.serve(t, filepath.Join(RunRoot, id, qgaFile))
	p := New()
	vm := func(agent bool, state string) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"guest_agent": cty.BoolVal(agent), "state": cty.StringVal(state)})
	}
	for name, tc := range map[string]struct {
		value    cty.Value
		argv     []string
		stdin    string
		code     int
		out, err string
		fails    string // an error that contains this
	}{
		"output, stderr and exit code": {value: vm(true, "running"), argv: []string{"/bin/cat", "-"}, stdin: "input", code: 7, out: "ran /bin/cat with input", err: "warning\n"},
		"killed by a signal":           {value: vm(true, "running"), argv: []string{"/bin/kill-me"}, code: 137},
		"no such program":              {value: vm(true, "running"), argv: []string{"/missing"}, fails: "guest-exec /missing: GenericError"},
		"no guest agent":               {value: vm(false, "running"), argv: []string{"uname"}, fails: "set guest_agent = true (a restart) and run qemu-ga in the guest, or use its serial console: labform console vm.r"},
		"no command":                   {value: vm(true, "running"), fails: "labform console vm.r for a shell"},
		"paused":                       {value: vm(true, "paused"), argv: []string{"uname"}, fails: "vm.r is paused"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code, err := p.Exec(context.Background(), providers.ExecRequest{
				DescribeRequest: providers.DescribeRequest{Lab: providers.Lab{Name: "t", Dir: "/labs/t"}, Type: "vm", Addr: "vm.r", ID: id, Value: tc.value},
				Argv:            tc.argv, Stdin: strings.NewReader(tc.stdin), Stdout: &out, Stderr: &errOut,
			})
			if tc.fails != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fails) {
					t.Fatalf("wrong error\ngot:  %v\nwant: ...%s...", err, tc.fails)
				}
				return
			}
			if err != nil || code != tc.code || out.String() != tc.out || errOut.String() != tc.err {
				t.Fatalf("got code %d, stdout %q, stderr %q, error %v\nwant code %d, stdout %q, stderr %q", code, out.String(), errOut.String(), err, tc.code, tc.out, tc.err)
			}
		})
	}
	if len(agent.execs) == 0 || agent.execs[0]["capture-output"] != true {
		t.Errorf("guest-exec was not asked to capture output: %v", agent.execs)
	}
}

// TestExec_guestAgentSilent: a channel with no qemu-ga behind it (the
// socket answers nothing) is an error that says so, not a hang.
func TestExec_guestAgentSilent(t *testing.T) {
	old := RunRoot
	RunRoot = t.TempDir()
	t.Cleanup(func() { RunRoot = old })
	id := "fedcba9876543210"
	os.MkdirAll(filepath.Join(RunRoot, id), 0o700)
	l, err := net.Listen("unix", filepath.Join(RunRoot, id, qgaFile))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			buf := make([]byte, 1024)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}
	}()
	p := New()
	p.timeout = 300e6 // 300 ms
	_, err = p.Exec(context.Background(), providers.ExecRequest{
		DescribeRequest: providers.DescribeRequest{Lab: providers.Lab{Name: "t", Dir: "/labs/t"}, Type: "vm", Addr: "vm.r", ID: id,
			Value: cty.ObjectVal(map[string]cty.Value{"guest_agent": cty.True, "state": cty.StringVal("running")})},
		Argv: []string{"uname"}, Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
	})
	if err == nil || !strings.Contains(err.Error(), "is qemu-ga running in the guest?") {
		t.Fatalf("wrong error\ngot:  %v", err)
	}
}

func stringOf(v interface{}) string {
	s, _ := v.(string)
	return s
}
