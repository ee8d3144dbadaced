package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers/all"
)

// TestDynamicBlocks evaluates labs written with dynamic blocks and the same
// labs written out by hand: every instance must come out the same.
func TestDynamicBlocks(t *testing.T) {
	cases := []struct {
		name, dynamic, static string
	}{
		{"list with iterator and static blocks around it", `
variable "ports" { default = [22, 80] }
firewall_chain "c" {
  target = lab
  hooks  = ["INPUT"]
  rule {
    action = "drop"
  }
  dynamic "rule" {
    for_each = var.ports
    iterator = p
    content {
      protocol = "tcp"
      dport    = p.value
      comment  = "rule ${p.key}"
      action   = "accept"
    }
  }
  rule {
    action = "reject"
  }
}`, `
firewall_chain "c" {
  target = lab
  hooks  = ["INPUT"]
  rule {
    action = "drop"
  }
  rule {
    protocol = "tcp"
    dport    = 22
    comment  = "rule 0"
    action   = "accept"
  }
  rule {
    protocol = "tcp"
    dport    = 80
    comment  = "rule 1"
    action   = "accept"
  }
  rule {
    action = "reject"
  }
}`},
		{"labelled blocks from a map", `
vm "v" {
  image = "a.qcow2"
  dynamic "disk" {
    for_each = { hdb = "b.qcow2", hdc = "c.qcow2" }
    labels   = [disk.key]
    content {
      image = disk.value
    }
  }
}`, `
vm "v" {
  image = "a.qcow2"
  disk "hdb" {
    image = "b.qcow2"
  }
  disk "hdc" {
    image = "c.qcow2"
  }
}`},
		{"a single block switched on and off", `
variable "delay" { default = "5ms" }
container "n" {
  rootfs = "rootfs"
  ports  = 2
}
link "off" {
  endpoints = [container.n.port[0], container.n.port[1]]
  dynamic "impairment" {
    for_each = var.delay == "5ms" ? [] : [1]
    content {
      delay = var.delay
    }
  }
}
link "on" {
  endpoints = [container.n.port[0], container.n.port[1]]
  dynamic "impairment" {
    for_each = var.delay == "" ? [] : [var.delay]
    content {
      delay = impairment.value
    }
  }
}`, `
container "n" {
  rootfs = "rootfs"
  ports  = 2
}
link "off" {
  endpoints = [container.n.port[0], container.n.port[1]]
}
link "on" {
  endpoints = [container.n.port[0], container.n.port[1]]
  impairment {
    delay = "5ms"
  }
}
`},
		{"nested dynamic blocks, the inner one reading the outer iterator", `
locals {
  calls = {
    ptrace = [0, 1]
    kill   = [9]
  }
}
container "n" {
  rootfs = "rootfs"
  seccomp {
    default_action = "SCMP_ACT_ALLOW"
    dynamic "syscall" {
      for_each = local.calls
      content {
        names  = [syscall.key]
        action = "SCMP_ACT_ERRNO"
        dynamic "arg" {
          for_each = syscall.value
          iterator = a
          content {
            index = a.key
            value = a.value
            op    = "SCMP_CMP_EQ"
          }
        }
      }
    }
  }
}`, `
container "n" {
  rootfs = "rootfs"
  seccomp {
    default_action = "SCMP_ACT_ALLOW"
    syscall {
      names  = ["kill"]
      action = "SCMP_ACT_ERRNO"
      arg {
        index = 0
        value = 9
        op    = "SCMP_CMP_EQ"
      }
    }
    syscall {
      names  = ["ptrace"]
      action = "SCMP_ACT_ERRNO"
      arg {
        index = 0
        value = 0
        op    = "SCMP_CMP_EQ"
      }
      arg {
        index = 1
        value = 1
        op    = "SCMP_CMP_EQ"
      }
    }
  }
}`},
		{"for_each over a set and over each.value", `
container "n" {
  for_each = { a = ["/x", "/y"] }
  rootfs   = "rootfs"
  dynamic "mount" {
    for_each = toset(each.value)
    content {
      source      = "data${mount.key}"
      destination = mount.value
    }
  }
}`, `
container "n" {
  for_each = { a = 1 }
  rootfs   = "rootfs"
  mount {
    source      = "data/x"
    destination = "/x"
  }
  mount {
    source      = "data/y"
    destination = "/y"
  }
}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dyn := evalSource(t, tc.dynamic)
			static := evalSource(t, tc.static)
			if len(dyn.Order) != len(static.Order) {
				t.Fatalf("%d instances, want %d", len(dyn.Order), len(static.Order))
			}
			for _, ia := range static.Order {
				got, ok := dyn.Instances[ia]
				if !ok {
					t.Fatalf("no instance %s", ia)
				}
				if want := static.Instances[ia].Value; !got.Value.RawEquals(want) {
					t.Errorf("%s:\n got %#v\nwant %#v", ia, got.Value, want)
				}
			}
		})
	}
}

func evalSource(t *testing.T, src string) *config.Desired {
	t.Helper()
	dir := t.TempDir()
	l := config.NewLab(dir, all.Registry())
	diags := l.AddFile(filepath.Join(dir, "main.lab.hcl"), []byte(src))
	diags = append(diags, l.Check()...)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, diags := config.Evaluate(l, config.NewInputs(), nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return d
}

// TestDynamicUnknownForEach: a for_each known only after apply makes the
// blocks unknown (not an empty list), makes the instance wait for it, and
// depends on what it reads.
func TestDynamicUnknownForEach(t *testing.T) {
	d := evalSource(t, `
container "a" {
  rootfs = "rootfs"
}
firewall_chain "c" {
  target = lab
  hooks  = ["INPUT"]
  dynamic "rule" {
    for_each = container.a.pid > 0 ? [1] : []
    content {
      action = "accept"
    }
  }
}`)
	inst := d.Instances[addr.Resource{Type: "firewall_chain", Name: "c"}.Instance(addr.Key{})]
	if inst == nil {
		t.Fatal("no firewall_chain.c")
	}
	if rules := inst.Value.GetAttr("rule"); rules.IsKnown() {
		t.Errorf("rule = %#v, want unknown", rules)
	}
	if !inst.UnknownArgs {
		t.Error("UnknownArgs not set")
	}
	want := addr.Resource{Type: "container", Name: "a"}.Instance(addr.Key{})
	if len(inst.Deps) != 1 || inst.Deps[0] != want {
		t.Errorf("deps %v, want [%s]", inst.Deps, want)
	}
}

// BenchmarkEvaluateRules1000 evaluates 1000 firewall chains of 5 rules
// each, written out and written with a dynamic block: what expanding a
// dynamic block per instance costs.
func BenchmarkEvaluateRules1000(b *testing.B) {
	static := `
firewall_chain "c" {
  count  = 1000
  target = lab
  hooks  = ["INPUT"]
` + strings.Repeat(`  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
`, 5) + "}\n"
	dynamic := `
firewall_chain "c" {
  count  = 1000
  target = lab
  hooks  = ["INPUT"]
  dynamic "rule" {
    for_each = [22, 22, 22, 22, 22]
    content {
      protocol = "tcp"
      dport    = rule.value
      action   = "accept"
    }
  }
}
`
	for _, bc := range []struct{ name, src string }{{"static", static}, {"dynamic", dynamic}} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			l := config.NewLab(dir, all.Registry())
			diags := l.AddFile(filepath.Join(dir, "main.lab.hcl"), []byte(bc.src))
			if diags = append(diags, l.Check()...); diags.HasErrors() {
				b.Fatal(diags)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, diags := config.Evaluate(l, config.NewInputs(), nil); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
		})
	}
}

// TestDecodeLeavesSchemaCacheAlone: decoding bodies (here a chain of 50
// rule blocks, loaded twice) adds the dynamic block to a copy of the
// cached schemas, never to the shared ones, which would otherwise grow by
// one block per body decoded and make a large lab's load quadratic.
func TestDecodeLeavesSchemaCacheAlone(t *testing.T) {
	reg := all.Registry()
	schema, err := reg.Schema("netfilter", "firewall_chain")
	if err != nil {
		t.Fatal(err)
	}
	chainBlocks := len(schema.HCLSchema().Blocks)
	ruleBlocks := len(schema.Blocks["rule"].Block.HCLSchema().Blocks)
	src := "firewall_chain \"c\" {\n  target = lab\n" + strings.Repeat("  rule {\n    action = \"accept\"\n  }\n", 50) + "}\n"
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		l := config.NewLab(dir, reg)
		diags := l.AddFile(filepath.Join(dir, "main.lab.hcl"), []byte(src))
		if diags = append(diags, l.Check()...); diags.HasErrors() {
			t.Fatal(diags.Error())
		}
	}
	if got := len(schema.HCLSchema().Blocks); got != chainBlocks {
		t.Errorf("the chain's cached schema has %d block types after two loads, %d before", got, chainBlocks)
	}
	if got := len(schema.Blocks["rule"].Block.HCLSchema().Blocks); got != ruleBlocks {
		t.Errorf("the rule block's cached schema has %d block types after two loads, %d before", got, ruleBlocks)
	}
}
