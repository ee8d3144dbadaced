package netfilter

import (
	"net/netip"
	"strconv"
	"strings"
)

// savedForm predicts how iptables-save prints a rule that labform
// rendered (the rule without its leading "-A NAME "): it adds /32 or /128
// to a host and masks a network, names the match module that -p, an ICMP
// type or --tcp-flags implied, prints ICMP types as numbers, conntrack
// states in its own order, the default --reject-with, and quotes a
// comment only when it holds more than letters, digits, '-' and '_'.
//
// ok is false for anything it cannot be sure of (a protocol by number or
// from the protocols file, an ICMP type name it does not know): apply
// then reads the chain back with iptables-save instead. A prediction is
// trusted only as far as TestSystem_savedFormPredicted checks it against
// both iptables backends; a wrong one would show as drift in the next
// plan, never as a rule left unapplied.
func savedForm(rule, family string) (string, bool) {
	w := splitRule(rule)
	out := make([]string, 0, len(w)+4)
	module := "" // the last -m given, so an implied one is not added twice
	proto := ""
	for i := 0; i < len(w); i++ {
		arg := func() (string, bool) {
			if i+1 < len(w) {
				i++
				return w[i], true
			}
			return "", false
		}
		f := w[i]
		switch f {
		case "-s", "-d":
			a, ok := arg()
			if !ok {
				return "", false
			}
			if a, ok = savedAddr(a, family); !ok {
				return "", false
			}
			out = append(out, f, a)
		case "-i", "-o", "--sport", "--dport", "--uid-owner":
			a, ok := arg()
			if !ok {
				return "", false
			}
			out = append(out, f, a)
		case "!":
			out = append(out, f)
		case "-p":
			a, ok := arg()
			if !ok {
				return "", false
			}
			switch a {
			case "all":
				// iptables-save leaves out a match on every protocol.
			case "tcp", "udp", "sctp", "esp", "ah", "gre":
				out = append(out, f, a)
			case "icmp":
				if family != "ipv4" {
					return "", false
				}
				out = append(out, f, a)
			case "icmpv6":
				if family != "ipv6" {
					return "", false
				}
				out = append(out, f, "ipv6-icmp")
			default:
				return "", false
			}
			proto = a
		case "-m":
			a, ok := arg()
			if !ok {
				return "", false
			}
			switch a {
			case "tcp", "udp", "sctp", "owner", "conntrack", "comment":
			default:
				return "", false
			}
			module = a
			out = append(out, f, a)
		case "--tcp-flags":
			if proto != "tcp" || i+2 >= len(w) {
				return "", false
			}
			if module != "tcp" {
				out, module = append(out, "-m", "tcp"), "tcp"
			}
			out = append(out, f, w[i+1], w[i+2])
			i += 2
		case "--icmp-type", "--icmpv6-type":
			a, ok := arg()
			if !ok {
				return "", false
			}
			m, names := "icmp", icmpTypes
			if f == "--icmpv6-type" {
				m, names = "icmp6", icmpv6Types
			}
			if (m == "icmp") != (proto == "icmp") || (m == "icmp6") != (proto == "icmpv6") {
				return "", false
			}
			n, ok := names[a]
			if !ok {
				if n, ok = icmpNumber(a); !ok {
					return "", false
				}
			}
			out, module = append(out, "-m", m, f, n), m
		case "--ctstate":
			a, ok := arg()
			if !ok {
				return "", false
			}
			s, ok := savedStates(a)
			if !ok {
				return "", false
			}
			out = append(out, f, s)
		case "--comment":
			a, ok := arg()
			if !ok {
				return "", false
			}
			out = append(out, f, savedString(a))
		case "-j":
			a, ok := arg()
			if !ok || i != len(w)-1 {
				return "", false
			}
			out = append(out, f, a)
			if a == "REJECT" {
				if family == "ipv6" {
					out = append(out, "--reject-with", "icmp6-port-unreachable")
				} else {
					out = append(out, "--reject-with", "icmp-port-unreachable")
				}
			}
		default:
			return "", false
		}
	}
	return strings.Join(out, " "), true
}

// savedAddr is an address or network as iptables-save prints it.
func savedAddr(a, family string) (string, bool) {
	if strings.Contains(a, "/") {
		p, err := netip.ParsePrefix(a)
		if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() || p.Addr().Is4() != (family == "ipv4") {
			return "", false
		}
		return p.Masked().String(), true
	}
	ip, err := netip.ParseAddr(a)
	if err != nil || ip.Zone() != "" || ip.Is4In6() || ip.Is4() != (family == "ipv4") {
		return "", false
	}
	return netip.PrefixFrom(ip, ip.BitLen()).String(), true
}

// icmpNumber reads a type as a number, "TYPE" or "TYPE/CODE", in the
// form iptables prints it back (no leading zeros).
func icmpNumber(s string) (string, bool) {
	for _, part := range strings.SplitN(s, "/", 2) {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != part {
			return "", false
		}
	}
	return s, true
}

// icmpTypes and icmpv6Types are the names iptables' icmp and icmp6
// matches know, as the numbers iptables-save prints for them.
var (
	icmpTypes = map[string]string{
		"echo-reply": "0", "destination-unreachable": "3", "network-unreachable": "3/0", "host-unreachable": "3/1",
		"protocol-unreachable": "3/2", "port-unreachable": "3/3", "fragmentation-needed": "3/4", "source-route-failed": "3/5",
		"network-unknown": "3/6", "host-unknown": "3/7", "network-prohibited": "3/9", "host-prohibited": "3/10",
		"communication-prohibited": "3/13", "host-precedence-violation": "3/14", "precedence-cutoff": "3/15",
		"source-quench": "4", "redirect": "5", "network-redirect": "5/0", "host-redirect": "5/1", "echo-request": "8",
		"router-advertisement": "9", "router-solicitation": "10", "time-exceeded": "11", "ttl-zero-during-transit": "11/0",
		"ttl-zero-during-reassembly": "11/1", "parameter-problem": "12", "ip-header-bad": "12/0",
		"required-option-missing": "12/1", "timestamp-request": "13", "timestamp-reply": "14",
		"address-mask-request": "17", "address-mask-reply": "18",
	}
	icmpv6Types = map[string]string{
		"destination-unreachable": "1", "no-route": "1/0", "communication-prohibited": "1/1", "beyond-scope": "1/2",
		"address-unreachable": "1/3", "port-unreachable": "1/4", "failed-policy": "1/5", "reject-route": "1/6",
		"packet-too-big": "2", "time-exceeded": "3", "ttl-zero-during-transit": "3/0", "ttl-zero-during-reassembly": "3/1",
		"parameter-problem": "4", "bad-header": "4/0", "unknown-header-type": "4/1", "unknown-option": "4/2",
		"echo-request": "128", "echo-reply": "129", "router-solicitation": "133", "router-advertisement": "134",
		"neighbour-solicitation": "135", "neighbour-advertisement": "136", "redirect": "137",
	}
)

// savedStates are conntrack states in the order iptables-save prints them.
func savedStates(s string) (string, bool) {
	order := []string{"INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"}
	have := map[string]bool{}
	for _, st := range strings.Split(s, ",") {
		if !contains(order, st) {
			return "", false
		}
		have[st] = true
	}
	var out []string
	for _, st := range order {
		if have[st] {
			out = append(out, st)
		}
	}
	return strings.Join(out, ","), true
}

// savedString is a string argument as iptables-save quotes it: bare when
// it is only letters, digits, '-' and '_', else in double quotes with
// '"', '\' and '\” escaped.
func savedString(s string) string {
	bare := s != ""
	for i := 0; i < len(s) && bare; i++ {
		c := s[i]
		bare = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if bare {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' || s[i] == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
