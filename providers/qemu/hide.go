package qemu

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Files in a VM's working directory that hold sensitive values, 0600.
const hiddenFile = "hidden.cfg" // -readconfig sections of a sensitive extra_args

// configGroups are the options QEMU reads from a -readconfig file as well
// as from its command line, with the key their first, unnamed value has.
// Nothing else can be moved out of the process list.
var configGroups = map[string]string{"device": "driver", "netdev": "type", "chardev": "backend", "object": "qom-type", "drive": ""}

// hidden is a sensitive extra_args made fit for the process list: the
// arguments that stay in argv, and the files (name in the working
// directory to content) that hold the rest.
type hidden struct {
	Args  []string
	Files map[string][]byte
}

// hideArgs keeps a sensitive extra_args out of QEMU's argv (which
// /proc/<pid>/cmdline shows to every user) and out of qemu.log:
//   - -object secret,...,data=X becomes -object secret,...,file=F, F a
//     0600 file holding X, QEMU's own way to pass a secret;
//   - -device, -netdev, -chardev, -drive and other -object options go to a
//     0600 -readconfig file, which QEMU reads at start;
//   - any other option cannot be hidden and is refused, naming it.
func hideArgs(words []string, dir string) (hidden, error) {
	h := hidden{Files: map[string][]byte{}}
	var cfg strings.Builder
	for i := 0; i < len(words); i++ {
		opt := strings.TrimPrefix(strings.TrimPrefix(words[i], "-"), "-")
		implied, ok := configGroups[opt]
		if !ok || !strings.HasPrefix(words[i], "-") || i+1 == len(words) {
			what := "word " + fmt.Sprint(i+1) // never the word itself: it may be the secret
			if optionName.MatchString(words[i]) {
				what = words[i]
			}
			return hidden{}, fmt.Errorf("extra_args is sensitive, and QEMU cannot take its %s from a file, so it would show in the process list: "+
				"only -device, -netdev, -chardev, -drive and -object (-object secret for passwords and keys) can be hidden. "+
				"Keep that option out of the sensitive value, or pass the secret through -object secret", what)
		}
		i++
		kvs, err := parseOpts(words[i], implied)
		if err != nil {
			return hidden{}, fmt.Errorf("extra_args: -%s: %w", opt, err)
		}
		id := kvs.get("id")
		if opt == "object" && kvs.get("qom-type") == "secret" && kvs.has("data") {
			if id == "" {
				return hidden{}, fmt.Errorf("extra_args: -object secret needs an id")
			}
			name := "secret-" + id
			h.Files[name] = []byte(kvs.get("data"))
			kvs.del("data")
			kvs.del("qom-type")
			kvs = append(kvs, kv{"file", filepath.Join(dir, name)})
			h.Args = append(h.Args, "-object", "secret,"+kvs.String())
			continue
		}
		if id != "" {
			fmt.Fprintf(&cfg, "[%s %q]\n", opt, id)
		} else {
			fmt.Fprintf(&cfg, "[%s]\n", opt)
		}
		for _, p := range kvs {
			if p.k == "id" {
				continue
			}
			fmt.Fprintf(&cfg, "  %s = \"%s\"\n", p.k, p.v)
		}
		cfg.WriteString("\n")
	}
	if cfg.Len() > 0 {
		h.Files[hiddenFile] = []byte(cfg.String())
		h.Args = append(h.Args, "-readconfig", filepath.Join(dir, hiddenFile))
	}
	return h, nil
}

var (
	optionName = regexp.MustCompile(`^--?[a-z][a-z0-9-]{0,31}$`)
	keyName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,62}$`)
)

// kv is one key=value of a QEMU option list.
type kv struct{ k, v string }

// kvList is an option list in the order it was written: a slice, not a
// map, so that what labform writes back (the rewritten -object secret,
// the -readconfig file) lists the keys as the user wrote them, the same
// from run to run.
type kvList []kv

func (l kvList) get(k string) string {
	for _, p := range l {
		if p.k == k {
			return p.v
		}
	}
	return ""
}

func (l kvList) has(k string) bool {
	for _, p := range l {
		if p.k == k {
			return true
		}
	}
	return false
}

func (l *kvList) del(k string) {
	out := (*l)[:0]
	for _, p := range *l {
		if p.k != k {
			out = append(out, p)
		}
	}
	*l = out
}

// String is the list as a command-line option value, commas doubled.
func (l kvList) String() string {
	parts := make([]string, len(l))
	for i, p := range l {
		parts[i] = p.k + "=" + opt(p.v)
	}
	return strings.Join(parts, ",")
}

// parseOpts reads QEMU's key=value,... syntax (",," is a comma in a
// value); a first part without "=" is the value of implied; a later bare
// key means key=on. Values go into a config file between double quotes,
// which QEMU's reader cannot escape: quotes and line breaks are refused.
func parseOpts(s, implied string) (kvList, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ',' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	parts = append(parts, cur.String())
	var l kvList
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		switch {
		case !ok && i == 0 && implied != "":
			k, v = implied, p
		case !ok:
			v = "on"
		}
		if !keyName.MatchString(k) || strings.ContainsAny(v, "\"\n\r") || len(v) > 1023 {
			return nil, fmt.Errorf("part %d cannot go into a QEMU config file (keys are names, values hold no quotes or line breaks and at most 1023 bytes)", i+1)
		}
		l = append(l, kv{k, v})
	}
	return l, nil
}

// sensitiveStrings are the strings at the sensitive paths of v: what
// qemu.log must not echo.
func sensitiveStrings(v cty.Value, paths []cty.Path) []string {
	set := map[string]bool{}
	for _, p := range paths {
		x, err := p.Apply(v)
		if err != nil {
			continue
		}
		cty.Walk(x, func(_ cty.Path, e cty.Value) (bool, error) {
			if e.IsKnown() && !e.IsNull() && e.Type() == cty.String && e.AsString() != "" {
				set[e.AsString()] = true
			}
			return true, nil
		})
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	// Longest first, so that a secret inside another is not left half.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// isSensitive reports whether the attribute name is, or is inside, one of
// the sensitive paths.
func isSensitive(name string, paths []cty.Path) bool {
	for _, p := range paths {
		if len(p) > 0 && p[0] == (cty.GetAttrStep{Name: name}) {
			return true
		}
	}
	return false
}

// redact replaces every sensitive string, and every word of a hidden
// extra_args, in a line for the log.
func redact(line string, secrets []string) string {
	for _, s := range secrets {
		line = strings.ReplaceAll(line, s, "(sensitive)")
	}
	return line
}

// hideKernelArgs moves a sensitive kernel command line out of argv: QEMU
// takes -append as the machine property append, which a -readconfig
// [machine] section sets as well.
func hideKernelArgs(c *vmConfig) error {
	if strings.ContainsAny(c.KernelArgs, "\"\n\r") || len(c.KernelArgs) > 1023 {
		return fmt.Errorf("kernel_args is sensitive, but holds a double quote, a line break or more than 1023 bytes, which QEMU's config file cannot carry; without them it stays out of the process list")
	}
	if c.Hidden == nil {
		c.Hidden = map[string][]byte{}
	}
	if _, ok := c.Hidden[hiddenFile]; !ok {
		c.Extra = append(c.Extra, "-readconfig", filepath.Join(c.Dir, hiddenFile))
	}
	c.Hidden[hiddenFile] = append(c.Hidden[hiddenFile], fmt.Sprintf("[machine]\n  append = \"%s\"\n\n", c.KernelArgs)...)
	c.KernelArgs = ""
	return nil
}
