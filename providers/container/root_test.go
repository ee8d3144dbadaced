package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/zclconf/go-cty/cty"
)

// TestCheckCommand: the command is looked up where the container will
// find it: in its root, or under a bind mount's source.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	root, scripts := filepath.Join(dir, "rootfs"), filepath.Join(dir, "scripts")
	for _, f := range []string{filepath.Join(root, "bin", "sh"), filepath.Join(scripts, "start.sh"), filepath.Join(root, "usr", "lib", "frr", "docker-start")} {
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, nil, 0o755)
	}
	mounts := []specs.Mount{{Destination: "/opt/scripts", Type: "bind", Source: scripts}, {Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"}}
	for _, tc := range []struct {
		args []string
		path string
		err  string
	}{
		{args: []string{"sh"}},
		{args: []string{"/bin/sh"}},
		{args: []string{"/opt/scripts/start.sh"}},
		{args: []string{"start.sh"}, path: "/opt/scripts:/bin"},
		{args: []string{"/usr/lib/frr/docker-start"}},
		{args: []string{"/opt/scripts/missing.sh"}, err: "the command /opt/scripts/missing.sh is not in"},
		{args: []string{"vtysh"}, err: `the command "vtysh" is not in`},
	} {
		env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		if tc.path != "" {
			env = []string{"PATH=" + tc.path}
		}
		s := &specs.Spec{Root: &specs.Root{Path: root}, Process: &specs.Process{Args: tc.args, Env: env, Cwd: "/"}, Mounts: mounts}
		err := checkCommand(s)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.err)
		}
	}
}

// TestApplyImageConfig: what the image's configuration gives, and what
// the lab's arguments override.
func TestApplyImageConfig(t *testing.T) {
	cfg := &v1.ConfigFile{Config: v1.Config{Entrypoint: []string{"/sbin/tini", "--"}, Cmd: []string{"/usr/lib/frr/docker-start"},
		Env: []string{"PATH=/usr/sbin:/bin", "FOO=image"}, WorkingDir: "/work", User: "0:0"}}
	val := func(cmd []string, env map[string]string, cwd string) cty.Value {
		m := map[string]cty.Value{"image": cty.StringVal("frr"), "cwd": cty.StringVal(cwd), "user": cty.NullVal(cty.Object(map[string]cty.Type{"uid": cty.Number}))}
		m["command"] = cty.NullVal(cty.List(cty.String))
		if cmd != nil {
			var l []cty.Value
			for _, c := range cmd {
				l = append(l, cty.StringVal(c))
			}
			m["command"] = cty.ListVal(l)
		}
		m["env"] = cty.NullVal(cty.Map(cty.String))
		if env != nil {
			e := map[string]cty.Value{}
			for k, v := range env {
				e[k] = cty.StringVal(v)
			}
			m["env"] = cty.MapVal(e)
		}
		return cty.ObjectVal(m)
	}
	for _, tc := range []struct {
		name      string
		v         cty.Value
		args, env string
		cwd       string
		labArgs   []string
	}{
		{name: "image's", v: val(nil, nil, "/"), args: "/sbin/tini -- /usr/lib/frr/docker-start", env: "PATH=/usr/sbin:/bin FOO=image", cwd: "/work"},
		{name: "lab's", v: val([]string{"sleep", "1"}, map[string]string{"FOO": "lab", "BAR": "x"}, "/srv"), labArgs: []string{"sleep", "1"},
			args: "sleep 1", env: "PATH=/usr/sbin:/bin BAR=x FOO=lab", cwd: "/srv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &specs.Spec{Root: &specs.Root{Path: t.TempDir()}, Process: &specs.Process{Args: tc.labArgs, Cwd: str(tc.v, "cwd")}}
			if err := applyImageConfig(tc.v, s, cfg); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(s.Process.Args, " "); got != tc.args {
				t.Errorf("args %q, want %q", got, tc.args)
			}
			if got := strings.Join(s.Process.Env, " "); got != tc.env {
				t.Errorf("env %q, want %q", got, tc.env)
			}
			if s.Process.Cwd != tc.cwd {
				t.Errorf("cwd %q, want %q", s.Process.Cwd, tc.cwd)
			}
		})
	}
	for _, tc := range []struct {
		name string
		cfg  v1.Config
		v    cty.Value
		err  string
	}{
		{"no command", v1.Config{}, val(nil, nil, "/"), "the image frr has neither Entrypoint nor Cmd: set command"},
		{"relative WorkingDir", v1.Config{Cmd: []string{"sh"}, WorkingDir: "work"}, val(nil, nil, "/"), `the image frr has WorkingDir "work", not an absolute path (runc refuses it, as docker does): set cwd`},
		{"unknown User", v1.Config{Cmd: []string{"sh"}, User: "nobody"}, val(nil, nil, "/"), `the image's User "nobody": no user "nobody" in the container's /etc/passwd (add a user block`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
			err := applyImageConfig(tc.v, &specs.Spec{Root: &specs.Root{Path: root}, Process: &specs.Process{}}, &v1.ConfigFile{Config: tc.cfg})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v; want %q", err, tc.err)
			}
		})
	}
	// A relative WorkingDir under a lab's cwd is not used: no error.
	if err := applyImageConfig(val(nil, nil, "/srv"), &specs.Spec{Root: &specs.Root{}, Process: &specs.Process{}}, &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}, WorkingDir: "work"}}); err != nil {
		t.Errorf("a relative WorkingDir with cwd set: %v", err)
	}
}
