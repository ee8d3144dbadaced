package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fileFuncLab makes a lab directory with a few files, a link out of it and
// a file just over MaxFileSize, and a host directory outside it.
func fileFuncLab(t *testing.T) (lab, outside string) {
	t.Helper()
	root := t.TempDir()
	lab, outside = filepath.Join(root, "lab"), filepath.Join(root, "outside")
	files := map[string]string{
		"lab/configs/daemons":          "zebra=yes\nbgpd=yes\n",
		"lab/configs/frr.conf.tftpl":   "hostname ${id}\n%{ for n in peers ~}\nneighbor ${n} remote-as ${asn}\n%{ endfor ~}\n",
		"lab/configs/sub/a.txt":        "a",
		"lab/configs/sub/deep/b.txt":   "b",
		"lab/configs/binary":           "\xff\xfe\x00",
		"lab/configs/missing.tftpl":    "x = ${y}\nz = ${nope}\n",
		"lab/configs/recurse.tftpl":    `${templatefile("configs/recurse.tftpl", {})}`,
		"lab/configs/funcs.tftpl":      `${upper(name)} ${filemd5("configs/daemons")}`,
		"lab/configs/bad.tftpl":        "${",
		"lab/configs/only.tftpl":       "${list}",
		"outside/secret":               "host file",
		"lab/configs/deep-nest.tftpl":  "${" + strings.Repeat("(", MaxExprDepth+5) + "1" + strings.Repeat(")", MaxExprDepth+5) + "}",
		"lab/configs/sub/deep/c.tftpl": "c",
		"lab/.labform/state.db":        "state",
		"lab/.labform/backups/s.db":    "state",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(lab, "out")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(lab, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(lab, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(MaxFileSize + 1); err != nil { // sparse: no 10 MiB written
		t.Fatal(err)
	}
	big.Close()
	return lab, outside
}

// TestFileFunctions calls each file function through an HCL expression,
// as a lab does, and checks its value or its error.
func TestFileFunctions(t *testing.T) {
	lab, outside := fileFuncLab(t)
	home, _ := os.UserHomeDir()
	tests := map[string]struct {
		expr    string
		host    bool // allow_host_paths
		want    cty.Value
		wantErr string // a part of the error
	}{
		"file":                        {expr: `file("configs/daemons")`, want: cty.StringVal("zebra=yes\nbgpd=yes\n")},
		"file absolute in lab":        {expr: `file("` + lab + `/configs/sub/a.txt")`, want: cty.StringVal("a")},
		"file missing":                {expr: `file("configs/none")`, wantErr: "no file exists at " + lab + "/configs/none"},
		"file not UTF-8":              {expr: `file("configs/binary")`, wantErr: "not valid UTF-8; use filebase64"},
		"file directory":              {expr: `file("configs")`, wantErr: "is a directory, not a regular file"},
		"file FIFO":                   {expr: `file("fifo")`, wantErr: "is a named pipe (FIFO), not a regular file"},
		"templatefile FIFO":           {expr: `templatefile("fifo", {})`, wantErr: "is a named pipe (FIFO), not a regular file"},
		"file outside":                {expr: `file("../outside/secret")`, wantErr: "is outside the lab directory"},
		"file through a link":         {expr: `file("out/secret")`, wantErr: "which leads to " + outside + "/secret"},
		"file outside allowed":        {expr: `file("../outside/secret")`, host: true, want: cty.StringVal("host file")},
		"file too large":              {expr: `file("big")`, wantErr: "the most a file function reads"},
		"file empty path":             {expr: `file("")`, wantErr: "the path is empty"},
		"filebase64":                  {expr: `filebase64("configs/binary")`, want: cty.StringVal("//4A")},
		"filemd5":                     {expr: `filemd5("configs/sub/a.txt")`, want: cty.StringVal("0cc175b9c0f1b6a831c399e269772661")},
		"filesha256":                  {expr: `filesha256("configs/sub/a.txt")`, want: cty.StringVal("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb")},
		"filesha256 too large":        {expr: `filesha256("big")`, wantErr: "the most a file function reads"},
		"fileexists":                  {expr: `fileexists("configs/daemons")`, want: cty.True},
		"fileexists no":               {expr: `fileexists("configs/none")`, want: cty.False},
		"fileexists directory":        {expr: `fileexists("configs")`, wantErr: "is a directory, not a regular file"},
		"fileexists outside":          {expr: `fileexists("/etc/passwd")`, wantErr: "is outside the lab directory"},
		"fileset":                     {expr: `fileset("configs", "sub/**/*.txt")`, want: cty.SetVal([]cty.Value{cty.StringVal("sub/a.txt"), cty.StringVal("sub/deep/b.txt")})},
		"fileset star":                {expr: `fileset("configs/sub", "*")`, want: cty.SetVal([]cty.Value{cty.StringVal("a.txt")})},
		"fileset alternatives":        {expr: `fileset(".", "configs/{daemons,binary}")`, want: cty.SetVal([]cty.Value{cty.StringVal("configs/binary"), cty.StringVal("configs/daemons")})},
		"fileset none":                {expr: `fileset("configs", "*.none")`, want: cty.SetValEmpty(cty.String)},
		"fileset skips .labform":      {expr: `fileset(".", "**/*.db")`, want: cty.SetValEmpty(cty.String)},
		"fileset skips .labform too":  {expr: `fileset(".labform", "*")`, want: cty.SetValEmpty(cty.String)},
		"fileset no directory":        {expr: `fileset("nodir", "*")`, want: cty.SetValEmpty(cty.String)},
		"fileset skips a link out":    {expr: `fileset(".", "out/*")`, want: cty.SetValEmpty(cty.String)},
		"fileset bad pattern":         {expr: `fileset("configs", "[")`, wantErr: `invalid pattern "["`},
		"fileset pattern leaves":      {expr: `fileset("configs", "../../outside/*")`, wantErr: "leads out of"},
		"fileset outside":             {expr: `fileset("/etc", "*")`, wantErr: "is outside the lab directory"},
		"abspath":                     {expr: `abspath("configs/../configs/daemons")`, want: cty.StringVal(lab + "/configs/daemons")},
		"abspath absolute":            {expr: `abspath("/etc//x")`, want: cty.StringVal("/etc/x")},
		"basename":                    {expr: `basename("/etc/frr/frr.conf")`, want: cty.StringVal("frr.conf")},
		"dirname":                     {expr: `dirname("/etc/frr/frr.conf")`, want: cty.StringVal("/etc/frr")},
		"pathexpand":                  {expr: `pathexpand("~/x")`, want: cty.StringVal(home + "/x")},
		"pathexpand other user":       {expr: `pathexpand("~bob/x")`, want: cty.StringVal("~bob/x")},
		"templatefile":                {expr: `templatefile("configs/frr.conf.tftpl", { id = "r1", peers = ["10.0.0.1", "10.0.0.2"], asn = 65001 })`, want: cty.StringVal("hostname r1\nneighbor 10.0.0.1 remote-as 65001\nneighbor 10.0.0.2 remote-as 65001\n")},
		"templatefile map vars":       {expr: `templatefile("configs/sub/deep/c.tftpl", {})`, want: cty.StringVal("c")},
		"templatefile functions":      {expr: `templatefile("configs/funcs.tftpl", { name = "r" })`, want: cty.StringVal("R 0c2c35530b54e22aa1631893bd3adccd")},
		"templatefile single value":   {expr: `templatefile("configs/only.tftpl", { list = [1, 2] })`, want: cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)})},
		"templatefile missing var":    {expr: `templatefile("configs/missing.tftpl", { y = 1 })`, wantErr: `vars map does not contain key "nope", referenced at configs/missing.tftpl:2:7`},
		"templatefile recursion":      {expr: `templatefile("configs/recurse.tftpl", {})`, wantErr: "cannot call templatefile from inside a template"},
		"templatefile syntax":         {expr: `templatefile("configs/bad.tftpl", {})`, wantErr: "configs/bad.tftpl:1,"},
		"templatefile vars not a map": {expr: `templatefile("configs/sub/deep/c.tftpl", "x")`, wantErr: "must be a map or an object"},
		"templatefile bad var name":   {expr: `templatefile("configs/sub/deep/c.tftpl", { "1x" = 1 })`, wantErr: `invalid template variable name "1x"`},
		"templatefile outside":        {expr: `templatefile("../outside/secret", {})`, wantErr: "is outside the lab directory"},
		"templatefile too large":      {expr: `templatefile("big", {})`, wantErr: "the most a file function reads"},
		"templatefile too deep":       {expr: `templatefile("configs/deep-nest.tftpl", {})`, wantErr: "Expression nested too deeply"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fns := newFileFuncs(lab, tc.host).functions(Functions)
			expr, diags := hclsyntax.ParseExpression([]byte(tc.expr), "test.lab.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, diags := expr.Value(&hcl.EvalContext{Functions: fns})
			if tc.wantErr != "" {
				if !diags.HasErrors() {
					t.Fatalf("no error; got %#v", got)
				}
				if !strings.Contains(diags.Error(), tc.wantErr) {
					t.Fatalf("wrong error\ngot:  %s\nwant: ...%s...", diags.Error(), tc.wantErr)
				}
				if diags[0].Subject == nil || diags[0].Subject.Filename != "test.lab.hcl" {
					t.Errorf("the error does not point at the call: %#v", diags[0].Subject)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !got.RawEquals(tc.want) {
				t.Errorf("wrong value\ngot:  %#v\nwant: %#v", got, tc.want)
			}
		})
	}
}

// TestFileFunctions_marks: a sensitive vars value makes templatefile's
// result sensitive, as cty carries marks through calls.
func TestFileFunctions_marks(t *testing.T) {
	lab, _ := fileFuncLab(t)
	fns := newFileFuncs(lab, false).functions(Functions)
	v, err := fns["templatefile"].Call([]cty.Value{cty.StringVal("configs/sub/deep/c.tftpl"),
		cty.ObjectVal(map[string]cty.Value{"x": cty.StringVal("s").Mark("sensitive")})})
	if err != nil {
		t.Fatal(err)
	}
	if !v.HasMark("sensitive") {
		t.Errorf("the result lost the sensitive mark: %#v", v)
	}
}

// TestFileFunctions_readBudget: the bytes the functions read are counted
// once per file and refused past MaxFileReads.
func TestFileFunctions_readBudget(t *testing.T) {
	lab, _ := fileFuncLab(t)
	ff := newFileFuncs(lab, false)
	ff.read = MaxFileReads - 3
	if _, err := ff.readFile("configs/sub/a.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := ff.readFile("configs/sub/a.txt"); err != nil { // cached: not counted again
		t.Fatal(err)
	}
	if _, err := ff.readFile("configs/daemons"); err == nil || !strings.Contains(err.Error(), "MiB in all") {
		t.Errorf("got %v, want the read budget's error", err)
	}
}
