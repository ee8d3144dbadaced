package netfilter

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/labform/labform/internal/par"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// Chain is a firewall_chain's value, checked and ready to render.
type Chain struct {
	Name       string // the chain's name in the table: the resource's name
	Table      string
	Families   []string // ipv4, ipv6
	Hooks      []string
	Mode       string // allowlist or denylist
	UIDs       []uint32
	Interfaces []string
	Rules      []Rule
}

// Rule is one rule block.
type Rule struct {
	Action, Jump              string
	Protocol                  string
	Source, Destination       string
	Sport, Dport              string
	InInterface, OutInterface string
	UIDOwner                  *uint32
	CtState                   []string
	ICMPType                  string
	Comment                   string
}

// appUIDStart is Android's AID_APP: uids below it are the system's, which
// an allowlist always lets through (netd's FirewallController).
const appUIDStart = 10000

var (
	chainName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,27}$`)
	ifaceName    = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}\+?$`)
	commentText  = regexp.MustCompile(`^[A-Za-z0-9 _.,:;/=+@()#-]{0,256}$`)
	icmpTypeName = regexp.MustCompile(`^[a-z0-9-]{1,40}(/[0-9]{1,3})?$`)
	builtins     = map[string][]string{
		"filter": {"INPUT", "FORWARD", "OUTPUT"},
		"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
		"mangle": {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
		"raw":    {"PREROUTING", "OUTPUT"},
	}
	// builtinChains are the built-in chains of all tables: what hooks
	// may name, and names a firewall_chain may not take.
	builtinChains = []string{"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}
	// The owner match works only where packets leave from a local socket.
	ownerHooks  = map[string]bool{"OUTPUT": true, "POSTROUTING": true}
	protocols   = map[string]bool{"tcp": true, "udp": true, "icmp": true, "icmpv6": true, "sctp": true, "udplite": true, "esp": true, "ah": true, "gre": true, "all": true}
	ctStates    = map[string]bool{"new": true, "established": true, "related": true, "invalid": true, "untracked": true}
	ndICMPTypes = []string{"packet-too-big", "router-solicitation", "router-advertisement", "neighbour-solicitation", "neighbour-advertisement", "redirect"}
)

// reservedNames are names iptables gives a meaning of its own: the
// built-in chains and the standard targets. A chain named after one would
// refill a built-in chain (FORWARD), fail at apply (INPUT in a table
// where it is built in), or be read as a verdict (ACCEPT).
var reservedNames = append(append([]string(nil), builtinChains...), "ACCEPT", "DROP", "QUEUE", "RETURN")

// reservedName returns the reserved name that name is, in any case, or "".
// Lower-case "forward" is a distinct chain to iptables, but not to a
// reader of the lab or of iptables -L, so it is refused too.
func reservedName(name string) string {
	for _, r := range reservedNames {
		if strings.EqualFold(name, r) {
			return r
		}
	}
	return ""
}

// checkChainName checks the name of a chain a lab declares.
func checkChainName(name string) *providers.AttrError {
	if r := reservedName(name); r != "" {
		hint := fmt.Sprintf("rename the resource, e.g. firewall_chain %q.", "lab_"+strings.ToLower(r))
		if contains(builtinChains, r) {
			hint = fmt.Sprintf("rename the resource, e.g. firewall_chain %q, and set hooks = [%q] to have the built-in chain jump to it.", "lab_"+strings.ToLower(r), r)
		}
		return &providers.AttrError{Summary: "Reserved chain name",
			Detail: fmt.Sprintf("%q is iptables' own %s, which labform must not flush and refill. A chain is named after its resource: %s", name, r, hint)}
	}
	if !chainName.MatchString(name) {
		return &providers.AttrError{Summary: "Invalid chain name",
			Detail: fmt.Sprintf("%q: a chain is named after its resource, and iptables takes at most 28 letters, digits, '_' or '-'.", name)}
	}
	return nil
}

// ParseChain reads and checks a firewall_chain value. Every string that
// reaches the restore input is checked here, so nothing a user writes can
// add a line to it. Errors carry the path of the attribute at fault.
func ParseChain(name string, v cty.Value) (*Chain, []*providers.AttrError) {
	var errs []*providers.AttrError
	fail := func(p cty.Path, summary, detail string, args ...interface{}) {
		errs = append(errs, &providers.AttrError{Path: p, Summary: summary, Detail: fmt.Sprintf(detail, args...)})
	}
	c := &Chain{Name: name, Table: str(v, "table"), Mode: str(v, "mode")}
	if !chainName.MatchString(name) {
		fail(nil, "Invalid chain name", "%q: a chain's name (the resource's name) has at most 28 letters, digits, '_' or '-'.", name)
	}
	hooks, ok := builtins[c.Table]
	if !ok {
		fail(cty.GetAttrPath("table"), "Unknown table", "%q: the tables are filter, nat, mangle and raw.", c.Table)
	}
	switch str(v, "family") {
	case "ipv4":
		c.Families = []string{"ipv4"}
	case "ipv6":
		c.Families = []string{"ipv6"}
	case "both":
		c.Families = []string{"ipv4", "ipv6"}
	default:
		fail(cty.GetAttrPath("family"), "Invalid family", "%q: a chain's family is ipv4, ipv6 or both.", str(v, "family"))
	}
	if c.Mode != "allowlist" && c.Mode != "denylist" {
		fail(cty.GetAttrPath("mode"), "Invalid mode", "%q: a chain's mode is allowlist or denylist.", c.Mode)
	}
	ownerOK := true
	for i, h := range strs(v, "hooks") {
		if ok && !contains(hooks, h) {
			fail(cty.GetAttrPath("hooks").Index(cty.NumberIntVal(int64(i))), "Invalid hook", "%q is not a built-in chain of the %s table (%s).", h, c.Table, strings.Join(hooks, ", "))
		}
		ownerOK = ownerOK && ownerHooks[h]
		c.Hooks = append(c.Hooks, h)
	}
	for i, u := range nums(v, "uids") {
		if u < 0 || u > 4294967294 {
			fail(cty.GetAttrPath("uids").Index(cty.NumberIntVal(int64(i))), "Invalid uid", "%v is not a uid.", u)
		}
		c.UIDs = append(c.UIDs, uint32(u))
	}
	if len(c.UIDs) > 0 && !ownerOK {
		fail(cty.GetAttrPath("uids"), "Owner match from an input hook",
			"uids match a packet's socket owner, which the kernel knows only in OUTPUT and POSTROUTING; this chain is hooked from %s. Hook it from OUTPUT, or drop uids.", strings.Join(c.Hooks, ", "))
	}
	for i, ifc := range strs(v, "interfaces") {
		if !ifaceName.MatchString(ifc) {
			fail(cty.GetAttrPath("interfaces").Index(cty.NumberIntVal(int64(i))), "Invalid interface name", "%q: an interface name has 1 to 15 letters, digits or ._:@- (a trailing + matches a prefix).", ifc)
		}
		c.Interfaces = append(c.Interfaces, ifc)
	}
	rules := v.GetAttr("rule")
	if !rules.IsNull() && rules.IsKnown() {
		// A chain can have 10,000 rules: they are read on every core,
		// each with its own errors, reported in rule order.
		rvs := rules.AsValueSlice()
		c.Rules = make([]Rule, len(rvs))
		ruleErrs := make([][]*providers.AttrError, len(rvs))
		par.For(len(rvs), func(i int) {
			rv := rvs[i]
			// The rule's path is made only for an error: 10,000 of them
			// cost more than reading the rules.
			fail := func(rel cty.Path, summary, detail string, args ...interface{}) {
				p := append(cty.GetAttrPath("rule").Index(cty.NumberIntVal(int64(i))), rel...)
				ruleErrs[i] = append(ruleErrs[i], &providers.AttrError{Path: p, Summary: summary, Detail: fmt.Sprintf(detail, args...)})
			}
			r := Rule{Action: str(rv, "action"), Jump: str(rv, "jump"), Protocol: str(rv, "protocol"), Source: str(rv, "source"),
				Destination: str(rv, "destination"), Sport: str(rv, "sport"), Dport: str(rv, "dport"), InInterface: str(rv, "in_interface"),
				OutInterface: str(rv, "out_interface"), CtState: strs(rv, "ct_state"), ICMPType: str(rv, "icmp_type"), Comment: str(rv, "comment")}
			if u := rv.GetAttr("uid_owner"); !u.IsNull() && u.IsKnown() {
				f, _ := u.AsBigFloat().Uint64()
				uid := uint32(f)
				r.UIDOwner = &uid
				if !ownerOK {
					fail(cty.GetAttrPath("uid_owner"), "Owner match from an input hook",
						"uid_owner matches a packet's socket owner, which the kernel knows only in OUTPUT and POSTROUTING; this chain is hooked from %s.", strings.Join(c.Hooks, ", "))
				}
			}
			checkRule(r, c, fail)
			c.Rules[i] = r
		})
		for _, e := range ruleErrs {
			errs = append(errs, e...)
		}
	}
	return c, errs
}

func checkRule(r Rule, c *Chain, fail func(cty.Path, string, string, ...interface{})) {
	switch r.Action {
	case "accept", "drop", "reject", "return":
		if r.Jump != "" {
			fail(cty.GetAttrPath("jump"), "Jump without action = \"jump\"", "jump names a chain to go to; set action = \"jump\" with it.")
		}
	case "jump":
		if !chainName.MatchString(r.Jump) {
			fail(cty.GetAttrPath("jump"), "Invalid jump target", "%q: a chain's name has at most 28 letters, digits, '_' or '-'.", r.Jump)
		}
	default:
		fail(cty.GetAttrPath("action"), "Invalid action", "%q: a rule's action is accept, drop, reject, return or jump.", r.Action)
	}
	if r.Protocol != "" && !validProtocol(r.Protocol) {
		fail(cty.GetAttrPath("protocol"), "Invalid protocol", "%q is not a protocol iptables knows: use tcp, udp, icmp, icmpv6, sctp, esp, a name from %s (ospf, vrrp, ...) or a number 0-255.%s",
			r.Protocol, protocolsFile, protocolSuggestion(r.Protocol))
	}
	for _, a := range []struct{ name, val string }{{"source", r.Source}, {"destination", r.Destination}} {
		if a.val == "" {
			continue
		}
		ip := net.ParseIP(a.val)
		if ip == nil {
			var err error
			ip, _, err = net.ParseCIDR(a.val)
			if err != nil {
				fail(cty.GetAttrPath(a.name), "Invalid address", "%q is neither an address nor a CIDR.", a.val)
				continue
			}
		}
		if len(c.Families) == 1 && (ip.To4() == nil) != (c.Families[0] == "ipv6") {
			fail(cty.GetAttrPath(a.name), "Address of the wrong family", "%q does not belong in an %s chain.", a.val, c.Families[0])
		}
	}
	for _, a := range []struct{ name, val string }{{"sport", r.Sport}, {"dport", r.Dport}} {
		if a.val == "" {
			continue
		}
		if r.Protocol != "tcp" && r.Protocol != "udp" && r.Protocol != "sctp" && r.Protocol != "udplite" {
			fail(cty.GetAttrPath(a.name), "Port without a protocol", "%s needs protocol = tcp, udp, sctp or udplite.", a.name)
		}
		if !validPorts(a.val) {
			fail(cty.GetAttrPath(a.name), "Invalid port", "%q: a port is 1-65535, or a range such as 1000-2000.", a.val)
		}
	}
	for _, a := range []struct{ name, val string }{{"in_interface", r.InInterface}, {"out_interface", r.OutInterface}} {
		if a.val != "" && !ifaceName.MatchString(a.val) {
			fail(cty.GetAttrPath(a.name), "Invalid interface name", "%q: an interface name has 1 to 15 letters, digits or ._:@- (a trailing + matches a prefix).", a.val)
		}
	}
	for i, s := range r.CtState {
		if !ctStates[s] {
			fail(cty.GetAttrPath("ct_state").Index(cty.NumberIntVal(int64(i))), "Invalid conntrack state", "%q: the states are new, established, related, invalid and untracked.", s)
		}
	}
	if r.ICMPType != "" {
		if r.Protocol != "icmp" && r.Protocol != "icmpv6" {
			fail(cty.GetAttrPath("icmp_type"), "ICMP type without an ICMP protocol", "icmp_type needs protocol = icmp or icmpv6.")
		} else if !icmpTypeName.MatchString(r.ICMPType) {
			fail(cty.GetAttrPath("icmp_type"), "Invalid ICMP type", "%q: a type is a name such as echo-request or a number.", r.ICMPType)
		}
	}
	if !commentText.MatchString(r.Comment) {
		fail(cty.GetAttrPath("comment"), "Invalid comment", "%q: a comment holds up to 256 letters, digits, spaces and ._,:;/=+@()#- (no quotes or line breaks).", r.Comment)
	}
}

func validPorts(s string) bool {
	parts := strings.SplitN(s, "-", 2)
	lo, err := strconv.Atoi(parts[0])
	if err != nil || lo < 1 || lo > 65535 {
		return false
	}
	if len(parts) == 2 {
		hi, err := strconv.Atoi(parts[1])
		return err == nil && hi >= lo && hi <= 65535
	}
	return true
}

// Body renders the chain's rules for one family as iptables-restore
// lines (-A NAME ...), netd's semantics: an allowlist lets the system and
// the listed owners and interfaces through, then the user's rules, then
// drops; a denylist drops the listed owners, then the user's rules, and
// returns. maxUID is the highest uid of the namespace (from
// /proc/self/uid_map), which bounds "has a socket owner".
func (c *Chain) Body(family string, maxUID uint32) []string {
	lines, _ := c.body(family, maxUID)
	return lines
}

// fixed marks, in body's origins, a line that the mode, uids and
// interfaces make rather than a rule block.
const fixed = -1

// body is Body with, for each line, the index of the rule block it comes
// from (or fixed): refresh uses it to tell which rule was changed by hand.
func (c *Chain) body(family string, maxUID uint32) ([]string, []int) {
	var out []string
	var origin []int
	add := func(from int, format string, args ...interface{}) {
		out = append(out, fmt.Sprintf("-A %s ", c.Name)+fmt.Sprintf(format, args...))
		origin = append(origin, from)
	}
	owner := len(c.Hooks) > 0
	for _, h := range c.Hooks {
		owner = owner && ownerHooks[h]
	}
	if c.Mode == "allowlist" {
		if owner {
			add(fixed, "-m owner --uid-owner 0-%d -j RETURN", appUIDStart-1)
			add(fixed, "-m owner ! --uid-owner 0-%d -j RETURN", maxUID)
		}
		add(fixed, "-p esp -j RETURN")
		// An allowed interface is matched the way packets cross the hook:
		// incoming from INPUT and PREROUTING, outgoing from OUTPUT and
		// POSTROUTING, both ways from FORWARD.
		in, outDir := false, false
		for _, h := range c.Hooks {
			in = in || h == "INPUT" || h == "PREROUTING" || h == "FORWARD"
			outDir = outDir || h == "OUTPUT" || h == "POSTROUTING" || h == "FORWARD"
		}
		for _, ifc := range c.Interfaces {
			if in {
				add(fixed, "-i %s -j RETURN", ifc)
			}
			if outDir {
				add(fixed, "-o %s -j RETURN", ifc)
			}
		}
	}
	add(fixed, "-i lo -j RETURN")
	add(fixed, "-o lo -j RETURN")
	add(fixed, "-p tcp --tcp-flags RST RST -j RETURN")
	if c.Mode == "allowlist" && family == "ipv6" {
		for _, t := range ndICMPTypes {
			add(fixed, "-p icmpv6 --icmpv6-type %s -j RETURN", t)
		}
	}
	verdict := "RETURN"
	if c.Mode == "denylist" {
		verdict = "DROP"
	}
	for _, u := range c.UIDs {
		add(fixed, "-m owner --uid-owner %d -j %s", u, verdict)
	}
	// The rules render on every core (a chain can have 10,000).
	rendered := make([]string, len(c.Rules))
	par.For(len(c.Rules), func(i int) {
		if line, ok := c.Rules[i].render(family); ok {
			rendered[i] = "-A " + c.Name + " " + line
		}
	})
	for i, line := range rendered {
		if line != "" {
			out, origin = append(out, line), append(origin, i)
		}
	}
	if c.Mode == "allowlist" {
		add(fixed, "-j DROP")
	}
	return out, origin
}

// render is a rule's matches and target; a rule whose addresses belong to
// the other family is left out of this family's chain.
func (r Rule) render(family string) (string, bool) {
	var m []string
	for _, a := range []struct{ flag, val string }{{"-s", r.Source}, {"-d", r.Destination}} {
		if a.val == "" {
			continue
		}
		if (strings.Contains(a.val, ":")) != (family == "ipv6") {
			return "", false
		}
		m = append(m, a.flag, a.val)
	}
	if r.Protocol == "icmp" && family == "ipv6" || r.Protocol == "icmpv6" && family == "ipv4" {
		return "", false
	}
	if r.InInterface != "" {
		m = append(m, "-i", r.InInterface)
	}
	if r.OutInterface != "" {
		m = append(m, "-o", r.OutInterface)
	}
	if r.Protocol != "" {
		m = append(m, "-p", r.Protocol)
		if r.Sport != "" || r.Dport != "" {
			m = append(m, "-m", r.Protocol)
		}
		if r.Sport != "" {
			m = append(m, "--sport", strings.Replace(r.Sport, "-", ":", 1))
		}
		if r.Dport != "" {
			m = append(m, "--dport", strings.Replace(r.Dport, "-", ":", 1))
		}
	}
	if r.ICMPType != "" {
		if r.Protocol == "icmpv6" {
			m = append(m, "--icmpv6-type", r.ICMPType)
		} else {
			m = append(m, "--icmp-type", r.ICMPType)
		}
	}
	if r.UIDOwner != nil {
		m = append(m, "-m", "owner", "--uid-owner", strconv.FormatUint(uint64(*r.UIDOwner), 10))
	}
	if len(r.CtState) > 0 {
		m = append(m, "-m", "conntrack", "--ctstate", strings.ToUpper(strings.Join(r.CtState, ",")))
	}
	if r.Comment != "" {
		m = append(m, "-m", "comment", "--comment", strconv.Quote(r.Comment))
	}
	switch r.Action {
	case "jump":
		m = append(m, "-j", r.Jump)
	default:
		m = append(m, "-j", strings.ToUpper(r.Action))
	}
	return strings.Join(m, " "), true
}

// Restore renders the whole iptables-restore --noflush input for one
// family. Declaring the chain creates it or flushes it, its body refills
// it, and its jumps are fixed: added from each hook that lacks one,
// removed from every built-in chain that is no longer a hook. live is the
// table as the namespace has it now (nil for an empty one). A chain this
// one jumps to that does not exist yet is declared empty, so that chains
// jumping to each other can be applied in any order: the target's own
// apply fills it.
func (c *Chain) Restore(family string, maxUID uint32, live *Table) string {
	if live == nil {
		live = &Table{Chains: map[string][]string{}}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s\n:%s - [0:0]\n", c.Table, c.Name)
	declared := map[string]bool{c.Name: true}
	for _, r := range c.Rules {
		if r.Action == "jump" && !declared[r.Jump] && !live.Has(r.Jump) {
			declared[r.Jump] = true
			fmt.Fprintf(&b, ":%s - [0:0]\n", r.Jump)
		}
	}
	for _, line := range c.Body(family, maxUID) {
		b.WriteString(line + "\n")
	}
	for _, h := range builtins[c.Table] {
		n := live.Jumps(h, c.Name)
		if contains(c.Hooks, h) && n == 0 {
			fmt.Fprintf(&b, "-A %s -j %s\n", h, c.Name)
		}
		for ; n > 0 && !contains(c.Hooks, h); n-- {
			fmt.Fprintf(&b, "-D %s -j %s\n", h, c.Name)
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// DeleteInput is the restore input that removes the chain from one
// family's table: every rule anywhere that jumps to it, then the chain.
func DeleteInput(table, name string, live *Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s\n", table)
	for _, ref := range live.References(name) {
		fmt.Fprintf(&b, "-D %s\n", ref)
	}
	if live.Has(name) {
		fmt.Fprintf(&b, "-F %s\n-X %s\n", name, name)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

var (
	str  = providers.String
	strs = providers.Strings
	nums = providers.Numbers
)
