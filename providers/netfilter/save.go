package netfilter

import (
	"strconv"
	"strings"
)

// Ruleset is one family's iptables-save output, parsed: the rules of each
// chain of each table, as iptables-save prints them (its canonical form:
// "-s 10.0.0.1" comes back as "-s 10.0.0.1/32", "-m tcp" is added, quotes
// are dropped from simple comments).
type Ruleset map[string]*Table

// Table is one table's chains.
type Table struct {
	// Chains maps each chain, built-in or not, to its rules in order,
	// each without the leading "-A NAME ".
	Chains map[string][]string
	// Order lists the chains as declared, for stable output.
	Order []string
}

// ParseSave reads iptables-save output. Lines it does not know (comments,
// COMMIT, warnings of the other backend) are skipped.
func ParseSave(out string) Ruleset {
	rs := Ruleset{}
	var t *Table
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			t = &Table{Chains: map[string][]string{}}
			rs[line[1:]] = t
		case t == nil:
		case strings.HasPrefix(line, ":"):
			name, _, _ := strings.Cut(line[1:], " ")
			if _, ok := t.Chains[name]; !ok {
				t.Chains[name] = nil
				t.Order = append(t.Order, name)
			}
		case strings.HasPrefix(line, "-A "):
			name, rule, _ := strings.Cut(line[3:], " ")
			if _, ok := t.Chains[name]; !ok {
				t.Order = append(t.Order, name)
			}
			t.Chains[name] = append(t.Chains[name], rule)
		}
	}
	return rs
}

// Table returns the named table, empty when the family has none yet.
func (rs Ruleset) Table(name string) *Table {
	if t := rs[name]; t != nil {
		return t
	}
	return &Table{Chains: map[string][]string{}}
}

// Has reports whether the chain exists.
func (t *Table) Has(chain string) bool {
	_, ok := t.Chains[chain]
	return ok
}

// Jumps counts the rules of chain that are a bare jump to target, the
// form labform writes for a hook.
func (t *Table) Jumps(chain, target string) int {
	n := 0
	for _, r := range t.Chains[chain] {
		if r == "-j "+target {
			n++
		}
	}
	return n
}

// References lists, as "CHAIN RULE", every rule of any chain but target
// itself whose verdict is a jump or goto to target: what must go before
// target can be deleted.
func (t *Table) References(target string) []string {
	var refs []string
	for _, name := range t.Order {
		if name == target {
			continue
		}
		for _, r := range t.Chains[name] {
			f := splitRule(r)
			for i := 0; i+1 < len(f); i++ {
				if (f[i] == "-j" || f[i] == "-g") && f[i+1] == target {
					refs = append(refs, name+" "+r)
					break
				}
			}
		}
	}
	return refs
}

// splitRule splits a rule into its words the way iptables-save quotes
// them: double quotes group, a backslash escapes the next character. A
// word without either is a slice of s (a chain of 10,000 rules has some
// 80,000 words).
func splitRule(s string) []string {
	words := make([]string, 0, strings.Count(s, " ")+1)
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '"' && s[j] != '\\' {
			j++
		}
		if j == len(s) || s[j] == ' ' {
			words, i = append(words, s[i:j]), j
			continue
		}
		var w strings.Builder
		quoted := false
		for ; i < len(s) && (quoted || s[i] != ' '); i++ {
			switch ch := s[i]; {
			case ch == '\\' && i+1 < len(s):
				i++
				w.WriteByte(s[i])
			case ch == '"':
				quoted = !quoted
			default:
				w.WriteByte(ch)
			}
		}
		words = append(words, w.String())
	}
	return words
}

// parseRule reads a rule that labform did not write (one added by hand)
// back into a rule block, so that the plan can show it. What has no
// attribute of its own is kept, verbatim, in the comment.
func parseRule(s string) Rule {
	f := splitRule(s)
	var r Rule
	var rest []string
	for i := 0; i < len(f); i++ {
		arg := func() string {
			if i+1 < len(f) {
				i++
				return f[i]
			}
			return ""
		}
		switch f[i] {
		case "-s":
			r.Source = trimHostMask(arg())
		case "-d":
			r.Destination = trimHostMask(arg())
		case "-i":
			r.InInterface = arg()
		case "-o":
			r.OutInterface = arg()
		case "-p":
			r.Protocol = arg()
			if r.Protocol == "ipv6-icmp" {
				r.Protocol = "icmpv6"
			}
		case "-m":
			arg() // the match's module: implied by its options
		case "--sport":
			r.Sport = strings.Replace(arg(), ":", "-", 1)
		case "--dport":
			r.Dport = strings.Replace(arg(), ":", "-", 1)
		case "--icmp-type", "--icmpv6-type":
			r.ICMPType = arg()
		case "--uid-owner":
			if u, err := parseUint32(arg()); err == nil {
				r.UIDOwner = &u
			}
		case "--ctstate":
			r.CtState = strings.Split(strings.ToLower(arg()), ",")
		case "--comment":
			r.Comment = arg()
		case "-j", "-g":
			switch t := arg(); t {
			case "ACCEPT", "DROP", "REJECT", "RETURN":
				r.Action = strings.ToLower(t)
			default:
				r.Action, r.Jump = "jump", t
			}
		default:
			rest = append(rest, f[i])
		}
	}
	if len(rest) > 0 {
		note := "also: " + strings.Join(rest, " ")
		if r.Comment != "" {
			note = r.Comment + "; " + note
		}
		r.Comment = note
	}
	return r
}

func trimHostMask(a string) string {
	a = strings.TrimSuffix(a, "/32")
	return strings.TrimSuffix(a, "/128")
}

func parseUint32(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}
