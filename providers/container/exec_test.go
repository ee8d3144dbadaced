package container

import (
	"context"
	"strings"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// TestExec_notRunning: exec and console on a node that is not running say
// so and how to start it, whether the lab stopped it or it died (drift).
func TestExec_notRunning(t *testing.T) {
	p := New()
	for _, st := range []string{"stopped", "paused"} {
		req := providers.DescribeRequest{Type: "container", Addr: "container.r1", ID: "0123456789abcdef",
			Value: cty.ObjectVal(map[string]cty.Value{"state": cty.StringVal(st)})}
		want := "container.r1 is " + st + ": "
		hint := `apply starts it again: a node that stopped on its own shows as drift, and one the lab stops needs state = "running"`
		if _, err := p.Exec(context.Background(), providers.ExecRequest{DescribeRequest: req}); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), hint) {
			t.Errorf("exec on a %s node: %v", st, err)
		}
		if _, err := p.OpenConsole(context.Background(), providers.ConsoleRequest{DescribeRequest: req}); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), hint) {
			t.Errorf("console on a %s node: %v", st, err)
		}
	}
}
