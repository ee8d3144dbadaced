package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/all"
)

// TestFastContentIsHCL: where fastContent splits a body, it splits it as
// HCL's PartialContent and Content do, and HCL reports nothing; for every
// resource block (and the blocks in it) of the repository's lab files and
// of a few made to be declined.
func TestFastContentIsHCL(t *testing.T) {
	srcs := map[string]string{"shape.lab.hcl": unrolledShape,
		"declined.lab.hcl": `container "a" {
  rootfs  = "r"
  unknown = 1
}
container "b" {
  rootfs = "r"
  nope {
  }
}
container "c" {
  rootfs = "r"
  resources "x" {
  }
}
container "d" {
  count = 2
  rootfs = "r"
  lifecycle "x" {
  }
}
firewall_chain "e" {
  hooks = ["OUTPUT"]
  rule {
  }
}
`}
	filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, FileSuffix) {
			if b, err := os.ReadFile(path); err == nil {
				srcs[path] = string(b)
			}
		}
		return nil
	})
	reg := all.Registry()
	fast, declined := 0, 0
	var check func(body hcl.Body, schema, skip *hcl.BodySchema, partial bool, block *providers.Block)
	check = func(body hcl.Body, schema, skip *hcl.BodySchema, partial bool, block *providers.Block) {
		got, ok := fastContent(body, schema, skip, partial)
		var want *hcl.BodyContent
		var diags hcl.Diagnostics
		target := body
		if skip != nil {
			_, target, _ = body.PartialContent(skip)
		}
		if partial {
			want, _, diags = target.PartialContent(schema)
		} else {
			want, diags = target.Content(schema)
		}
		if !ok {
			declined++
			return
		}
		fast++
		if diags.HasErrors() {
			t.Fatalf("fastContent splits what HCL reports: %v", diags)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fastContent's split differs from HCL's:\n got %#v\nwant %#v", got, want)
		}
		if block == nil {
			return
		}
		for _, b := range want.Blocks {
			if nb, ok := block.Blocks[b.Type]; ok {
				check(b.Body, withDynamic(nb.Block.HCLSchema()), nil, false, nb.Block)
			}
		}
	}
	for name, src := range srcs {
		f, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos)
		if diags.HasErrors() {
			continue
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if !contains(ResourceTypes, b.Type) {
				continue
			}
			prov, _ := reg.Default(b.Type)
			schema, err := reg.Schema(prov, b.Type)
			if err != nil {
				t.Fatal(err)
			}
			hb := b.AsHCLBlock()
			before := declined
			check(hb.Body, metaSchema, nil, true, nil)
			check(hb.Body, withDynamic(schema.Block.HCLSchema()), metaSchema, false, &schema.Block)
			if name == "declined.lab.hcl" && declined == before {
				t.Errorf("%s %s: fastContent splits a body HCL reports on", b.Type, b.Labels[0])
			}
		}
	}
	if fast < 50 || declined < 6 {
		t.Fatalf("%d bodies split fast, %d declined: the test covers too little", fast, declined)
	}
}
