package link

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/zclconf/go-cty/cty"
)

// impairment is a link's impairment block, parsed.
type impairment struct {
	Delay, Jitter            time.Duration
	Loss, Duplicate, Corrupt float32 // percent
	RateBytes                uint64  // bytes per second; 0: no shaping
	netem                    bool    // needs netem (delay, jitter, loss, duplicate, corrupt)
	rateText                 string
}

// parseImpairment reads the block; errors name the attribute.
func parseImpairment(v cty.Value) (impairment, map[string]string) {
	var imp impairment
	errs := map[string]string{}
	if v.IsNull() || !v.IsKnown() {
		return imp, errs
	}
	get := func(name string) string {
		a := v.GetAttr(name)
		if a.IsNull() || !a.IsKnown() {
			return ""
		}
		return a.AsString()
	}
	dur := func(name string) time.Duration {
		s := get(name)
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			errs[name] = fmt.Sprintf("%q is not a duration such as 5ms or 1.5s", s)
			return 0
		}
		imp.netem = true
		return d
	}
	pct := func(name string) float32 {
		s := get(name)
		if s == "" {
			return 0
		}
		f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
		if err != nil || f < 0 || f > 100 || !strings.HasSuffix(strings.TrimSpace(s), "%") {
			errs[name] = fmt.Sprintf("%q is not a percentage such as 0.1%%", s)
			return 0
		}
		imp.netem = true
		return float32(f)
	}
	imp.Delay, imp.Jitter = dur("delay"), dur("jitter")
	imp.Loss, imp.Duplicate, imp.Corrupt = pct("loss"), pct("duplicate"), pct("corrupt")
	if imp.Jitter > 0 && imp.Delay == 0 {
		errs["jitter"] = "jitter varies a delay: set delay too"
	}
	if r := get("rate"); r != "" {
		b, err := parseRate(r)
		if err != nil {
			errs["rate"] = err.Error()
		}
		imp.RateBytes, imp.rateText = b, r
	}
	return imp, errs
}

// parseRate reads tc's rate units: bit, kbit, mbit, gbit (powers of 1000,
// bits per second), bps, kbps, mbps, gbps (bytes per second).
func parseRate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(t[:i], 64)
	units := map[string]float64{"bit": 1.0 / 8, "kbit": 1e3 / 8, "mbit": 1e6 / 8, "gbit": 1e9 / 8,
		"bps": 1, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9}
	mult, ok := units[t[i:]]
	if err != nil || !ok || n <= 0 {
		return 0, fmt.Errorf("%q is not a rate such as 8mbit, 100kbit or 1gbit", s)
	}
	return uint64(math.Round(n * mult)), nil
}

// qdisc is the root qdisc that carries imp on the interface with index
// link: netem when anything but the rate is impaired (netem shapes the
// rate too), tbf for a rate alone, nil for no impairment.
func (imp impairment) qdisc(link int) netlink.Qdisc {
	attrs := netlink.QdiscAttrs{LinkIndex: link, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}
	switch {
	case imp.netem:
		return netlink.NewNetem(attrs, netlink.NetemQdiscAttrs{
			Latency:     uint32(imp.Delay / time.Microsecond),
			Jitter:      uint32(imp.Jitter / time.Microsecond),
			Loss:        imp.Loss,
			Duplicate:   imp.Duplicate,
			CorruptProb: imp.Corrupt,
			Rate64:      imp.RateBytes,
			Limit:       10000,
		})
	case imp.RateBytes > 0:
		// A burst of one 100 Hz tick's worth (at least a few frames) and
		// a queue of 50 ms: what tc users are told to start from.
		// The kernel takes the burst as transmission time in scheduler
		// ticks, not bytes (netlink passes Buffer through as it is).
		burst := uint32(max(imp.RateBytes/100, 3200))
		return &netlink.Tbf{QdiscAttrs: attrs, Rate: imp.RateBytes, Buffer: netlink.Xmittime(imp.RateBytes, burst),
			Limit: uint32(imp.RateBytes/20) + burst}
	}
	return nil
}
