package providers

import (
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// DefaultToolTimeout is tool_timeout's default: how long one call of an
// external tool (runc, iptables-restore, qemu-img, a QEMU start,
// VBoxManage, a QMP exchange) may take before its process group is
// killed.
const DefaultToolTimeout = "60s"

// ToolTimeoutAttribute is the tool_timeout setting every provider that
// runs external tools has in its block.
func ToolTimeoutAttribute() *Attribute {
	return OptionalDefault(cty.StringVal(DefaultToolTimeout), InPlace,
		"how long one call of an external tool may take (a Go duration, e.g. \"60s\", \"2m\"); after it, the tool and what it started are killed and the action fails")
}

// ToolTimeout reads tool_timeout from a provider block's value; 0 (the
// default) when the block or the setting is absent.
func ToolTimeout(cfg cty.Value) (time.Duration, error) {
	if cfg.IsNull() || !cfg.IsKnown() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute("tool_timeout") {
		return 0, nil
	}
	s := String(cfg, "tool_timeout")
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("tool_timeout = %q: a positive duration such as \"60s\" or \"2m\" is needed", s)
	}
	return d, nil
}
