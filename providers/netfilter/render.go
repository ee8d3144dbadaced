package netfilter

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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

	// dec is the reading of Rules that startChain leaves running; nil for
	// a Chain built whole.
	dec *decoding
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
// add a line to it. Errors carry the path of the attribute at fault: the
// chain's own first, then the rule blocks', in rule order.
func ParseChain(name string, v cty.Value) (*Chain, []*providers.AttrError) {
	c, errs := startChain(name, v)
	return c, append(errs, c.ruleErrors()...)
}

// startChain is ParseChain that returns once the chain's own attributes
// are read and checked, with its rule blocks still being read on every
// core, a chunk at a time (a chain can have 10,000): apply starts
// iptables-restore and writes the first rules to it meanwhile. Anything
// that reads c.Rules waits for them (waitRules, waitChunk).
func startChain(name string, v cty.Value) (*Chain, []*providers.AttrError) {
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
	if rules := v.GetAttr("rule"); !rules.IsNull() && rules.IsKnown() {
		c.decodeRules(rules.AsValueSlice(), ownerOK)
	}
	return c, errs
}

// chunkRules is how many rule blocks are read, and then written to the
// restore input, at a time.
const chunkRules = 256

// decoding is the reading of a chain's rule blocks, which startChain
// leaves running. Chunk k (rules k*chunkRules onwards) is in c.Rules once
// ready[k] is closed. Whether any rule block has action = "jump" is read
// ahead of the rest, by the first to ask (scanJumps, once): which restore
// input apply writes depends on it.
type decoding struct {
	ready     []chan struct{}
	errs      [][]*providers.AttrError // per rule block
	jumpsOnce sync.Once
	scanJumps func()
	hasJump   bool
}

// decodeRules starts reading the rule blocks: one goroutine per core takes
// the next chunk until none is left, so that chunks are ready about in
// order. A single chunk is read before decodeRules returns.
func (c *Chain) decodeRules(rvs []cty.Value, ownerOK bool) {
	n := (len(rvs) + chunkRules - 1) / chunkRules
	d := &decoding{ready: make([]chan struct{}, n), errs: make([][]*providers.AttrError, len(rvs))}
	for k := range d.ready {
		d.ready[k] = make(chan struct{})
	}
	c.Rules, c.dec = make([]Rule, len(rvs)), d
	d.scanJumps = func() {
		for _, rv := range rvs {
			if str(rv, "action") == "jump" {
				d.hasJump = true
				return
			}
		}
	}
	if n == 1 {
		// A chain of a few rules is read at once: a goroutine would cost
		// more than it saves.
		for i, rv := range rvs {
			c.Rules[i], d.errs[i] = c.decodeRule(i, rv, ownerOK)
		}
		close(d.ready[0])
		return
	}
	var next atomic.Int64
	for w := min(runtime.GOMAXPROCS(0), n); w > 0; w-- {
		go func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				for i := k * chunkRules; i < min((k+1)*chunkRules, len(rvs)); i++ {
					c.Rules[i], d.errs[i] = c.decodeRule(i, rvs[i], ownerOK)
				}
				close(d.ready[k])
				// Let the goroutines that write the chunks and start the
				// restore run now, not when the scheduler next preempts.
				runtime.Gosched()
			}
		}()
	}
}

// decodeRule reads and checks rule block i.
func (c *Chain) decodeRule(i int, rv cty.Value, ownerOK bool) (Rule, []*providers.AttrError) {
	var errs []*providers.AttrError
	// The rule's path is made only for an error: 10,000 of them cost
	// more than reading the rules.
	fail := func(rel cty.Path, summary, detail string, args ...interface{}) {
		p := append(cty.GetAttrPath("rule").Index(cty.NumberIntVal(int64(i))), rel...)
		errs = append(errs, &providers.AttrError{Path: p, Summary: summary, Detail: fmt.Sprintf(detail, args...)})
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
	checkRule(&r, c, fail)
	return r, errs
}

// waitChunk waits until chunk k of the rule blocks is read.
func (c *Chain) waitChunk(k int) {
	if c.dec != nil {
		<-c.dec.ready[k]
	}
}

// waitRules waits until every rule block is read.
func (c *Chain) waitRules() {
	if c.dec != nil {
		for _, ch := range c.dec.ready {
			<-ch
		}
	}
}

// ruleErrors are the rule blocks' errors, in rule order, once all are read.
func (c *Chain) ruleErrors() []*providers.AttrError {
	if c.dec == nil {
		return nil
	}
	c.waitRules()
	var errs []*providers.AttrError
	for _, e := range c.dec.errs {
		errs = append(errs, e...)
	}
	return errs
}

// chunkErrors are the errors of chunk k's rule blocks, once it is read.
func (c *Chain) chunkErrors(k int) []*providers.AttrError {
	if c.dec == nil {
		return nil
	}
	c.waitChunk(k)
	var errs []*providers.AttrError
	for _, e := range c.dec.errs[k*chunkRules : min((k+1)*chunkRules, len(c.Rules))] {
		errs = append(errs, e...)
	}
	return errs
}

// hasJumpRules reports whether a rule block jumps to another chain:
// rendering such a chain needs to know whether that chain exists.
func (c *Chain) hasJumpRules() bool {
	if c.dec != nil {
		c.dec.jumpsOnce.Do(c.dec.scanJumps)
		return c.dec.hasJump
	}
	for _, r := range c.Rules {
		if r.Action == "jump" {
			return true
		}
	}
	return false
}

func checkRule(r *Rule, c *Chain, fail func(cty.Path, string, string, ...interface{})) {
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
	first, last, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(first)
	if err != nil || lo < 1 || lo > 65535 {
		return false
	}
	if isRange {
		hi, err := strconv.Atoi(last)
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
	c.waitRules()
	head, tail := c.fixedLines(family, maxUID)
	out := make([]string, 0, len(head)+len(c.Rules)+len(tail))
	origin := make([]int, 0, cap(out))
	prefix := "-A " + c.Name + " "
	for _, l := range head {
		out, origin = append(out, prefix+l), append(origin, fixed)
	}
	// The rules render on every core (a chain can have 10,000).
	rendered := make([]string, len(c.Rules))
	par.For(len(c.Rules), func(i int) {
		if line, ok := c.Rules[i].render(family); ok {
			rendered[i] = prefix + line
		}
	})
	for i, line := range rendered {
		if line != "" {
			out, origin = append(out, line), append(origin, i)
		}
	}
	for _, l := range tail {
		out, origin = append(out, prefix+l), append(origin, fixed)
	}
	return out, origin
}

// fixedLines are the lines of body that the mode, uids and interfaces
// make, without their "-A NAME ": those before the rule blocks' (head) and
// after them (tail).
func (c *Chain) fixedLines(family string, maxUID uint32) (head, tail []string) {
	add := func(format string, args ...interface{}) {
		head = append(head, fmt.Sprintf(format, args...))
	}
	owner := len(c.Hooks) > 0
	for _, h := range c.Hooks {
		owner = owner && ownerHooks[h]
	}
	if c.Mode == "allowlist" {
		if owner {
			add("-m owner --uid-owner 0-%d -j RETURN", appUIDStart-1)
			add("-m owner ! --uid-owner 0-%d -j RETURN", maxUID)
		}
		add("-p esp -j RETURN")
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
				add("-i %s -j RETURN", ifc)
			}
			if outDir {
				add("-o %s -j RETURN", ifc)
			}
		}
	}
	add("-i lo -j RETURN")
	add("-o lo -j RETURN")
	add("-p tcp --tcp-flags RST RST -j RETURN")
	if c.Mode == "allowlist" && family == "ipv6" {
		for _, t := range ndICMPTypes {
			add("-p icmpv6 --icmpv6-type %s -j RETURN", t)
		}
	}
	verdict := "RETURN"
	if c.Mode == "denylist" {
		verdict = "DROP"
	}
	for _, u := range c.UIDs {
		add("-m owner --uid-owner %d -j %s", u, verdict)
	}
	if c.Mode == "allowlist" {
		tail = []string{"-j DROP"}
	}
	return head, tail
}

// verdicts are the targets of the actions other than jump.
var verdicts = map[string]string{"accept": "ACCEPT", "drop": "DROP", "reject": "REJECT", "return": "RETURN"}

// render is a rule's matches and target; a rule whose addresses belong to
// the other family is left out of this family's chain. It is written into
// one buffer: a chain can have 10,000 rules.
func (r Rule) render(family string) (string, bool) {
	for _, a := range [...]string{r.Source, r.Destination} {
		if a != "" && strings.Contains(a, ":") != (family == "ipv6") {
			return "", false
		}
	}
	if r.Protocol == "icmp" && family == "ipv6" || r.Protocol == "icmpv6" && family == "ipv4" {
		return "", false
	}
	var b strings.Builder
	b.Grow(64)
	word := func(w string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	arg := func(flag, val string) {
		if val != "" {
			word(flag)
			word(val)
		}
	}
	arg("-s", r.Source)
	arg("-d", r.Destination)
	arg("-i", r.InInterface)
	arg("-o", r.OutInterface)
	if r.Protocol != "" {
		arg("-p", r.Protocol)
		if r.Sport != "" || r.Dport != "" {
			arg("-m", r.Protocol)
		}
		arg("--sport", strings.Replace(r.Sport, "-", ":", 1))
		arg("--dport", strings.Replace(r.Dport, "-", ":", 1))
	}
	if r.Protocol == "icmpv6" {
		arg("--icmpv6-type", r.ICMPType)
	} else {
		arg("--icmp-type", r.ICMPType)
	}
	if r.UIDOwner != nil {
		arg("-m", "owner")
		arg("--uid-owner", strconv.FormatUint(uint64(*r.UIDOwner), 10))
	}
	if len(r.CtState) > 0 {
		arg("-m", "conntrack")
		arg("--ctstate", strings.ToUpper(strings.Join(r.CtState, ",")))
	}
	if r.Comment != "" {
		arg("-m", "comment")
		arg("--comment", strconv.Quote(r.Comment))
	}
	if r.Action == "jump" {
		arg("-j", r.Jump)
	} else if v, ok := verdicts[r.Action]; ok {
		arg("-j", v)
	} else {
		arg("-j", strings.ToUpper(r.Action))
	}
	return b.String(), true
}

// Restore renders the whole iptables-restore --noflush input for one
// family. Declaring the chain creates it or flushes it, its body refills
// it, and its jumps are fixed: added from each hook that lacks one,
// removed from every built-in chain that is no longer a hook. live is the
// table as the namespace has it now (nil for an empty one). A chain this
// one jumps to that does not exist yet is declared empty, so that chains
// jumping to each other can be applied in any order: the target's own
// apply fills it. c must be valid (ParseChain found no error).
func (c *Chain) Restore(family string, maxUID uint32, live *Table) string {
	var b strings.Builder
	c.writeRestore(&b, family, maxUID, live) // a Builder takes every write
	return b.String()
}

// errInvalidRule stands for the rule blocks' errors (ruleErrors) where
// writeRestore stopped.
var errInvalidRule = errors.New("invalid rule block")

// writeRestore writes Restore's input to w, each chunk of rule blocks as
// soon as it is read, and returns the chain's lines as written, without
// their "-A NAME ", with the rule block each comes from (or fixed). It
// stops at the first write that fails, and before COMMIT at a rule block
// with an error (errInvalidRule): an input without COMMIT changes nothing.
func (c *Chain) writeRestore(w io.StringWriter, family string, maxUID uint32, live *Table) ([]string, []int, error) {
	if live == nil {
		live = &Table{Chains: map[string][]string{}}
	}
	var err error
	write := func(parts ...string) {
		for _, s := range parts {
			if err == nil {
				_, err = w.WriteString(s)
			}
		}
	}
	write("*", c.Table, "\n:", c.Name, " - [0:0]\n")
	if c.hasJumpRules() {
		c.waitRules()
		declared := map[string]bool{c.Name: true}
		for _, r := range c.Rules {
			if r.Action == "jump" && !declared[r.Jump] && !live.Has(r.Jump) {
				declared[r.Jump] = true
				write(":", r.Jump, " - [0:0]\n")
			}
		}
	}
	head, tail := c.fixedLines(family, maxUID)
	lines := make([]string, 0, len(head)+len(c.Rules)+len(tail))
	origin := make([]int, 0, cap(lines))
	line := func(l string, from int) {
		write("-A ", c.Name, " ", l, "\n")
		lines, origin = append(lines, l), append(origin, from)
	}
	for _, l := range head {
		line(l, fixed)
	}
	for k := 0; k*chunkRules < len(c.Rules) && err == nil; k++ {
		if len(c.chunkErrors(k)) > 0 {
			return nil, nil, errInvalidRule
		}
		for i := k * chunkRules; i < min((k+1)*chunkRules, len(c.Rules)); i++ {
			if l, ok := c.Rules[i].render(family); ok {
				line(l, i)
			}
		}
	}
	for _, l := range tail {
		line(l, fixed)
	}
	for _, h := range builtins[c.Table] {
		n := live.Jumps(h, c.Name)
		if contains(c.Hooks, h) && n == 0 {
			write("-A ", h, " -j ", c.Name, "\n")
		}
		for ; n > 0 && !contains(c.Hooks, h); n-- {
			write("-D ", h, " -j ", c.Name, "\n")
		}
	}
	write("COMMIT\n")
	return lines, origin, err
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
