package providers

import "github.com/zclconf/go-cty/cty"

// EndpointType is the value of a node's port[n]: which node, which port.
// It is known at plan time, so links never wait for "known after apply".
var EndpointType = cty.Object(map[string]cty.Type{
	"node": cty.String, // the node's address, e.g. vm.leaf[0]
	"port": cty.Number,
})

// EndpointVal builds a port[n] value.
func EndpointVal(node string, port int) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"node": cty.StringVal(node), "port": cty.NumberIntVal(int64(port))})
}
