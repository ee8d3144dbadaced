package netfilter

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// protocolsFile is where iptables, through getprotobyname(3), finds
// protocol names it does not know itself (ospf, vrrp, pim, ...).
var protocolsFile = "/etc/protocols"

// protocolName is what a protocol name may look like before it goes into
// the restore input, whatever a protocols file holds.
var protocolName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$`)

var (
	protoOnce  sync.Once
	protoNames map[string]bool
)

// knownProtocols is iptables' own names plus every name and alias of the
// protocols file.
func knownProtocols() map[string]bool {
	protoOnce.Do(func() {
		protoNames = map[string]bool{}
		for p := range protocols {
			protoNames[p] = true
		}
		f, err := os.Open(protocolsFile)
		if err != nil {
			return // iptables' own names and numbers only
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			line, _, _ := strings.Cut(s.Text(), "#")
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			if n, err := strconv.Atoi(fields[1]); err != nil || n < 0 || n > 255 {
				continue
			}
			for i, name := range fields {
				if i != 1 && protocolName.MatchString(name) {
					protoNames[name] = true
				}
			}
		}
	})
	return protoNames
}

// validProtocol reports whether iptables takes p after -p: one of its own
// names, a name from the protocols file, or a number from 0 to 255.
func validProtocol(p string) bool {
	if protocols[p] {
		return true // the usual case, without a number's parse error
	}
	if n, err := strconv.Atoi(p); err == nil {
		return n >= 0 && n <= 255 && strconv.Itoa(n) == p
	}
	return protocolName.MatchString(p) && knownProtocols()[p]
}

// protocolSuggestion is a " Did you mean "x"?" for an unknown protocol
// name, or "".
func protocolSuggestion(p string) string {
	names := make([]string, 0, len(knownProtocols()))
	for n := range knownProtocols() {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestDist := "", 3
	lp := strings.ToLower(p)
	for _, n := range names {
		if d := editDistance(lp, strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return ` Did you mean "` + best + `"?`
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
