package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvPrefix is the prefix of environment variables that set lab variables.
const EnvPrefix = "LABFORM_VAR_"

// Inputs are variable values given from outside the lab files. Later
// sources win: environment, then -var-file files, then -var flags, in the
// order given (Terraform's precedence).
type Inputs struct {
	// Unknowns makes variables without a value unknown instead of an
	// error: validate checks a lab without its inputs.
	Unknowns bool
	raw      map[string]rawInput
	// Diags collects problems with the inputs themselves (an unreadable
	// file); Evaluate reports them.
	diags hcl.Diagnostics
}

type rawInput struct {
	val    cty.Value      // from a saved plan: already typed
	str    string         // from -var or the environment: parsed per the variable's type
	expr   hcl.Expression // from a -var-file
	source string
}

// NewInputs returns empty inputs.
func NewInputs() *Inputs { return &Inputs{raw: map[string]rawInput{}} }

// AddEnv takes LABFORM_VAR_name=value entries from environ.
func (in *Inputs) AddEnv(environ []string) {
	for _, kv := range environ {
		if !strings.HasPrefix(kv, EnvPrefix) {
			continue
		}
		name, val, ok := strings.Cut(kv[len(EnvPrefix):], "=")
		if ok && name != "" {
			in.raw[name] = rawInput{str: val, source: "the environment variable " + EnvPrefix + name}
		}
	}
}

// AddFlag takes one -var name=value.
func (in *Inputs) AddFlag(kv string) error {
	name, val, ok := strings.Cut(kv, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("invalid -var %q: write -var 'name=value'", kv)
	}
	in.raw[strings.TrimSpace(name)] = rawInput{str: val, source: "-var " + name}
	return nil
}

// SetValue sets a variable to a typed value (from a saved plan).
func (in *Inputs) SetValue(name string, v cty.Value) {
	in.raw[name] = rawInput{val: v, source: "the saved plan"}
}

// AddFile takes a -var-file: an HCL file of name = value lines.
func (in *Inputs) AddFile(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		in.diags = append(in.diags, sourceless("Cannot read a variables file", err.Error()))
		return
	}
	if d := CheckSource(path, src); d != nil {
		in.diags = append(in.diags, d)
		return
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	in.diags = append(in.diags, diags...)
	if diags.HasErrors() {
		return
	}
	attrs, diags := f.Body.JustAttributes()
	in.diags = append(in.diags, diags...)
	for name, a := range attrs {
		in.raw[name] = rawInput{expr: a.Expr, source: path}
	}
}

type sensitiveMark struct{}

// Sensitive is the mark carried by values that come from sensitive
// variables; the plan and outputs hide values that carry it.
var Sensitive = sensitiveMark{}

// evalVariables decides every variable's value and runs its validations.
func (l *Lab) evalVariables(in *Inputs) (map[string]cty.Value, hcl.Diagnostics) {
	if in == nil {
		in = NewInputs()
	}
	diags := append(hcl.Diagnostics(nil), in.diags...)
	vals := map[string]cty.Value{}
	for name, raw := range in.raw {
		if _, ok := l.Variables[name]; ok || raw.val != cty.NilVal {
			continue
		}
		if raw.expr != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Value for undeclared variable",
				Detail:  fmt.Sprintf("%s sets %q, which the lab does not declare.%s", raw.source, name, didYouMean(name, sortedAttrKeys(l.Variables))),
				Subject: raw.expr.Range().Ptr()})
		} else if !strings.HasPrefix(raw.source, "the environment") {
			diags = append(diags, sourceless("Value for undeclared variable",
				fmt.Sprintf("%s sets %q, which the lab does not declare.%s", raw.source, name, didYouMean(name, sortedAttrKeys(l.Variables)))))
		}
	}
	for _, name := range sortedAttrKeys(l.Variables) {
		v := l.Variables[name]
		if _, given := in.raw[name]; !given && in.Unknowns && v.Default == cty.NilVal {
			vals[name] = cty.UnknownVal(v.Type)
			continue
		}
		val, d := v.value(in.raw[name], name)
		diags = append(diags, d...)
		if d.HasErrors() {
			vals[name] = cty.UnknownVal(v.Type)
			continue
		}
		diags = append(diags, v.validate(val)...)
		if v.Sensitive {
			val = val.Mark(Sensitive)
		}
		vals[name] = val
	}
	return vals, diags
}

func (v *Variable) value(raw rawInput, name string) (cty.Value, hcl.Diagnostics) {
	var val cty.Value
	switch {
	case raw.val != cty.NilVal:
		val = raw.val
	case raw.expr != nil:
		x, diags := raw.expr.Value(nil)
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
		val = x
	case raw.source != "":
		if v.Type == cty.String || v.Type == cty.DynamicPseudoType {
			val = cty.StringVal(raw.str)
		} else {
			if d := CheckSource(raw.source, []byte(raw.str)); d != nil {
				return cty.NilVal, hcl.Diagnostics{sourceless("Invalid value for variable", fmt.Sprintf("%s: %s", raw.source, d.Detail))}
			}
			e, diags := hclsyntax.ParseExpression([]byte(raw.str), raw.source, hcl.InitialPos)
			if diags.HasErrors() {
				return cty.NilVal, hcl.Diagnostics{sourceless("Invalid value for variable",
					fmt.Sprintf("%s: %q is not a valid %s value: %s.", raw.source, raw.str, v.Type.FriendlyName(), diags[0].Summary))}
			}
			x, diags := e.Value(nil)
			if diags.HasErrors() {
				return cty.NilVal, diags
			}
			val = x
		}
	case v.Default != cty.NilVal:
		return v.Default, nil
	default:
		return cty.NilVal, hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No value for required variable",
			Detail: fmt.Sprintf("The variable %q has no default, so it needs a value: -var '%s=...', a -var-file, or the environment variable %s%s.",
				name, name, EnvPrefix, name), Subject: v.DeclRange.Ptr()}}
	}
	conv, err := convertTo(val, v.Type)
	if err != nil {
		// Point at the value when it was written in a file, else at the
		// declaration.
		subject := v.DeclRange.Ptr()
		if raw.expr != nil {
			subject = raw.expr.Range().Ptr()
		}
		return cty.NilVal, hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail:  fmt.Sprintf("The value from %s is not compatible with variable %q's type %s: %s.", raw.source, name, v.Type.FriendlyName(), err),
			Subject: subject}}
	}
	return conv, nil
}

func (v *Variable) validate(val cty.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.Name: val})}, Functions: Functions}
	for _, rule := range v.Validations {
		ok, d := rule.Condition.Value(ctx)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		ok, err := convert.Convert(ok, cty.Bool)
		if err != nil || ok.IsNull() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid validation condition",
				Detail: "A validation condition must be true or false.", Subject: rule.Condition.Range().Ptr()})
			continue
		}
		if !ok.IsKnown() || ok.True() {
			continue
		}
		msg := "The value does not pass the validation rule."
		if m, d := rule.ErrorMessage.Value(ctx); !d.HasErrors() && m.Type() == cty.String && m.IsKnown() && !m.IsNull() {
			m, _ = m.Unmark()
			msg = m.AsString()
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail:  fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", msg, rule.DeclRange),
			Subject: rule.Condition.Range().Ptr()})
	}
	return diags
}

// convertTo converts v to ty, treating DynamicPseudoType as "anything".
func convertTo(v cty.Value, ty cty.Type) (cty.Value, error) {
	if ty == cty.DynamicPseudoType {
		return v, nil
	}
	return convert.Convert(v, ty)
}
