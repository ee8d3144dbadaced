package providers

import (
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

func TestToolTimeout(t *testing.T) {
	obj := func(s cty.Value) cty.Value { return cty.ObjectVal(map[string]cty.Value{"tool_timeout": s}) }
	tests := map[string]struct {
		cfg  cty.Value
		want time.Duration
		err  string
	}{
		"no block":        {cfg: cty.NullVal(cty.Object(map[string]cty.Type{"tool_timeout": cty.String}))},
		"no such setting": {cfg: cty.EmptyObjectVal},
		"unset":           {cfg: obj(cty.NullVal(cty.String))},
		"seconds":         {cfg: obj(cty.StringVal("30s")), want: 30 * time.Second},
		"minutes":         {cfg: obj(cty.StringVal("2m")), want: 2 * time.Minute},
		"not a duration":  {cfg: obj(cty.StringVal("soon")), err: `tool_timeout = "soon"`},
		"no unit":         {cfg: obj(cty.StringVal("60")), err: `tool_timeout = "60"`},
		"zero":            {cfg: obj(cty.StringVal("0s")), err: "a positive duration"},
		"negative":        {cfg: obj(cty.StringVal("-1s")), err: "a positive duration"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ToolTimeout(tc.cfg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
