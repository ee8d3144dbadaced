package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/labform/labform/config/addr"
	"github.com/zclconf/go-cty/cty"
)

// ProbeContext is the evaluation context for a check's expressions: the
// variables, locals and lab, and the resources the expressions mention with
// each instance's value from current (the state after an apply), else its
// desired value. Only those resources are looked up.
func (d *Desired) ProbeContext(exprs []hcl.Expression, current func(addr.Instance) (cty.Value, bool)) *hcl.EvalContext {
	view := d.currentView(exprs, current)
	return view.contextFor(view.baseVariables(), exprs, nil)
}

// Exprs lists the expressions of a probe, sorted by argument name.
func (p *Probe) Exprs() []hcl.Expression {
	var es []hcl.Expression
	for _, n := range sortedAttrNames(p.Attrs) {
		es = append(es, p.Attrs[n].Expr)
	}
	return es
}
