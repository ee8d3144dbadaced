package remote

import (
	"context"
	"errors"
	"testing"

	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// TestLinks_nothingDoneLeavesTheMessageAlone: a link that cannot be
// planned across the hosts changes nothing, and says so with the mark
// alone: the text is what went wrong, without the address (the engine
// puts it first) or words added for the mark.
func TestLinks_nothingDoneLeavesTheMessageAlone(t *testing.T) {
	x := NewLinks(providers.NewRegistry())
	if err := x.Configure(context.Background(), providers.ConfigureRequest{Lab: providers.Lab{Name: "t", ID: "0123456789ab"}}); err != nil {
		t.Fatal(err)
	}
	x.SetNodeHosts(map[string]string{"container.a": "h1"})
	end := func(node string, port int) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"node": cty.StringVal(node), "port": cty.NumberIntVal(int64(port))})
	}
	planned := cty.ObjectVal(map[string]cty.Value{"endpoints": cty.ListVal([]cty.Value{end("container.a", 0), end("container.b", 0)})})
	for _, op := range []struct {
		name string
		do   func(context.Context, providers.ApplyRequest) (providers.ApplyResponse, error)
	}{{"create", x.Create}, {"update", x.Update}} {
		_, err := op.do(context.Background(), providers.ApplyRequest{Type: "link", Addr: "link.w", ID: "feedfacefeedface", Planned: planned})
		if !errors.Is(err, providers.ErrNothingDone) {
			t.Fatalf("%s: %v, want it marked as changing nothing", op.name, err)
		}
		if want := "cannot tell which host container.b is on"; err.Error() != want {
			t.Errorf("%s: %q, want %q", op.name, err, want)
		}
	}
}
