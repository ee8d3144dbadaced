package providers

import (
	"github.com/labform/labform/internal/ctyobj"
	"github.com/zclconf/go-cty/cty"
)

// EndpointType is the value of a node's port[n]: which node, which port.
// It is known at plan time, so links never wait for "known after apply".
var EndpointType = cty.Object(map[string]cty.Type{
	"node": cty.String, // the node's address, e.g. vm.leaf[0]
	"port": cty.Number,
})

// EndpointVal builds a port[n] value (of type EndpointType: a large lab
// has one for every port of every node links refer to).
func EndpointVal(node string, port int) cty.Value {
	b := ctyobj.New(EndpointType)
	b.Set("node", cty.StringVal(node))
	b.Set("port", cty.NumberIntVal(int64(port)))
	return b.Value()
}
