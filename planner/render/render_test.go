package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// numbered is lines "l1\n" to "l<n>\n", with line i replaced by repl[i].
func numbered(n int, repl map[int]string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if r, ok := repl[i]; ok {
			b.WriteString(r)
			continue
		}
		fmt.Fprintf(&b, "l%d\n", i)
	}
	return b.String()
}

func TestLineDiff(t *testing.T) {
	tests := map[string]struct {
		a, b string
		want string
	}{
		"short text whole": {
			a: "a\nb\nc\n", b: "a\nB\nc\n",
			want: "  a\n- b\n+ B\n  c\n",
		},
		"one hunk with context": {
			a: numbered(20, nil), b: numbered(20, map[int]string{10: "ten\n"}),
			want: "  @@ -7,7 +7,7 @@\n  l7\n  l8\n  l9\n- l10\n+ ten\n  l11\n  l12\n  l13\n",
		},
		"two hunks": {
			a: numbered(30, nil), b: numbered(30, map[int]string{2: "", 25: "l25\nnew\n"}),
			want: "  @@ -1,5 +1,4 @@\n  l1\n- l2\n  l3\n  l4\n  l5\n" +
				"  @@ -23,6 +22,7 @@\n  l23\n  l24\n  l25\n+ new\n  l26\n  l27\n  l28\n",
		},
		"close changes share a hunk": {
			a: numbered(20, nil), b: numbered(20, map[int]string{8: "8\n", 14: "14\n"}),
			want: "  @@ -5,13 +5,13 @@\n  l5\n  l6\n  l7\n- l8\n+ 8\n  l9\n  l10\n  l11\n  l12\n  l13\n- l14\n+ 14\n  l15\n  l16\n  l17\n",
		},
		"appended at the end": {
			a: numbered(10, nil), b: numbered(10, nil) + "l11\n",
			want: "  @@ -8,3 +8,4 @@\n  l8\n  l9\n  l10\n+ l11\n",
		},
		"from empty": {
			a: "", b: "x\ny\n",
			want: "+ x\n+ y\n",
		},
		"last line without newline": {
			a: "a\nb", b: "a\nc",
			want: "  a\n- b\n+ c\n",
		},
		"a newline added at the end": {
			a: "a\nb", b: "a\nb\n",
			want: "  a\n- b\n  \\ No newline at end of file\n+ b\n",
		},
		"the newline at the end removed": {
			a: "a\nb\n", b: "a\nb",
			want: "  a\n- b\n+ b\n  \\ No newline at end of file\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := lineDiff(tc.a, tc.b, 2, false); got != tc.want {
				t.Errorf("wrong diff\ngot:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestWholeAsFmt: an object being created is written as fmt's
// "%s%s %-*s = %s\n" wrote each attribute, names padded to the longest.
func TestWholeAsFmt(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{
		"a":        cty.NumberIntVal(1),
		"longname": cty.StringVal("x"),
		"big":      cty.MustParseNumberVal("123456789012345678901234567890"),
		"frac":     cty.MustParseNumberVal("1.5"),
		"neg":      cty.NumberIntVal(-7),
		"none":     cty.NullVal(cty.String),
		"empty":    cty.ListValEmpty(cty.String),
		"list":     cty.ListVal([]cty.Value{cty.StringVal("p"), cty.StringVal("q")}),
		"secret":   cty.StringVal("s"),
	})
	var b strings.Builder
	w := &writer{b: &b, after: map[string]bool{"secret": true}}
	w.whole("+", v, 8, nil)
	want := "" +
		"      + a        = 1\n" +
		"      + big      = 123456789012345678901234567890\n" +
		"      + frac     = 1.5\n" +
		"      + list     = [\"p\", \"q\"]\n" +
		"      + longname = \"x\"\n" +
		"      + neg      = -7\n" +
		"      + secret   = (sensitive value)\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestValueAsFmt: objects and maps inside a value are written as fmt's
// "%s%-*s = %s\n" wrote each entry, keys sorted and padded, null
// attributes of an object left out.
func TestValueAsFmt(t *testing.T) {
	v := cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{
		"action": cty.StringVal("accept"),
		"dport":  cty.NumberIntVal(22),
		"none":   cty.NullVal(cty.String),
		"labels": cty.MapVal(map[string]cty.Value{"é": cty.StringVal("x"), "b": cty.StringVal("y")}),
	})})
	want := "[\n" +
		"        {\n" +
		"            action = \"accept\"\n" +
		"            dport  = 22\n" +
		"            labels = {\n" +
		"                \"b\" = \"y\"\n" +
		"                \"é\" = \"x\"\n" +
		"            }\n" +
		"        },\n" +
		"    ]"
	if got := value(v, false, 4); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
