package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// exprVariables is e.Variables() without hclsyntax's walk (a walker and a
// closure for every expression) for the expressions a lab written block
// by block is made of: literals, quoted strings without interpolations,
// references and tuples of these. Anything else is walked, as before.
func exprVariables(e hcl.Expression) []hcl.Traversal {
	if vars, ok := plainVariables(e, nil); ok {
		return vars
	}
	return e.Variables()
}

// plainVariables appends the references of e to vars, in the order
// hclsyntax's walk finds them; false when e is not one of the plain
// expressions.
func plainVariables(e hcl.Expression, vars []hcl.Traversal) ([]hcl.Traversal, bool) {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return vars, true
	case *hclsyntax.TemplateExpr:
		for _, p := range e.Parts {
			if _, ok := p.(*hclsyntax.LiteralValueExpr); !ok {
				return nil, false
			}
		}
		return vars, true
	case *hclsyntax.ScopeTraversalExpr:
		return append(vars, e.Traversal), true
	case *hclsyntax.TupleConsExpr:
		for _, x := range e.Exprs {
			var ok bool
			if vars, ok = plainVariables(x, vars); !ok {
				return nil, false
			}
		}
		return vars, true
	}
	return nil, false
}

// constString is the value of a quoted string without interpolations
// ("telnet"), as the template's Value would make it, without its
// buffer, marks and refinements; false for any other expression.
func constString(e hcl.Expression) (cty.Value, bool) {
	t, ok := e.(*hclsyntax.TemplateExpr)
	if !ok || len(t.Parts) != 1 {
		return cty.NilVal, false
	}
	lit, ok := t.Parts[0].(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.Type() != cty.String || lit.Val.IsMarked() || !lit.Val.IsKnown() || lit.Val.IsNull() {
		return cty.NilVal, false
	}
	return lit.Val, true
}
