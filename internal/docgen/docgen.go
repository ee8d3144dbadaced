package docgen

//go:generate go run ./gen -out ../../docs/providers

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/labform/labform/providers"
	"github.com/zclconf/go-cty/cty"
)

// Provider renders one provider's reference page. reg tells which
// provider is the default of each resource type.
func Provider(reg *providers.Registry, p providers.Provider) []byte {
	var b strings.Builder
	name := p.Name()
	schemas := p.Schemas()
	types := slices.Sorted(maps.Keys(schemas))
	fmt.Fprintf(&b, "# The %s provider\n\n", name)
	b.WriteString("<!-- Generated from the provider's schemas by `make docs`; do not edit. -->\n\n")
	var served []string
	for _, t := range types {
		s := fmt.Sprintf("`%s`", t)
		if def, ok := reg.Default(t); ok && def == name {
			s += " (the default provider of this type)"
		} else {
			s += fmt.Sprintf(" (written `provider = %s` in the block)", name)
		}
		served = append(served, s)
	}
	fmt.Fprintf(&b, "The %s provider serves %s resources.\n\n", name, strings.Join(served, ", "))
	b.WriteString("Each table lists the arguments a block takes and the attributes labform computes. " +
		"*A change* says what changing a value does to a running object: **in place** changes it while it runs, " +
		"**restart** stops it, reconfigures it and starts it again (same object, new process), " +
		"**replace** destroys it and creates a new one. A plan shows the cost of every change before it is applied.\n\n")

	b.WriteString("## Provider settings\n\n")
	if cfg := p.ConfigSchema(); cfg == nil || (len(cfg.Attributes) == 0 && len(cfg.Blocks) == 0) {
		fmt.Fprintf(&b, "The %s provider takes no settings; a `provider \"%s\"` block is not needed.\n\n", name, name)
	} else {
		fmt.Fprintf(&b, "Written in a `provider \"%s\" { ... }` block at the top level of the lab; all are optional.\n\n", name)
		writeBlock(&b, cfg, "", false)
	}
	for _, t := range types {
		s := schemas[t]
		fmt.Fprintf(&b, "## Resource `%s`\n\n", t)
		if s.Description != "" {
			fmt.Fprintf(&b, "A %s: %s.\n\n", t, strings.TrimSuffix(s.Description, "."))
		}
		if s.PortsAttr != "" {
			fmt.Fprintf(&b, "It is a node: `%s.NAME.port[n]`, for n from 0 to `%s` - 1, is one of its ports, which links take as endpoints.\n\n", t, s.PortsAttr)
		}
		if s.Singleton != "" {
			fmt.Fprintf(&b, "%s `create_before_destroy` is refused.\n\n", s.Singleton)
		}
		fmt.Fprintf(&b, "Besides the attributes below, every %s has `address`, its address as a string.\n\n", t)
		if imp, ok := p.(providers.Importer); ok && imp.ImportIDForm(t) != "" {
			fmt.Fprintf(&b, "**Import.** A %s made outside labform is adopted with `labform import %s.NAME ID` or an `import` block; ID is %s. The next plan shows how it differs from the configuration.\n\n", t, t, strings.TrimSuffix(imp.ImportIDForm(t), "."))
		}
		writeBlock(&b, &s.Block, t, true)
	}
	return []byte(b.String())
}

// writeBlock writes a block's attribute table, then its nested blocks.
func writeBlock(b *strings.Builder, blk *providers.Block, path string, costs bool) {
	names := slices.Sorted(maps.Keys(blk.Attributes))
	if len(names) > 0 {
		if costs {
			b.WriteString("| Name | Type | | Default | Allowed values | A change | Description |\n|---|---|---|---|---|---|---|\n")
		} else {
			b.WriteString("| Name | Type | | Default | Allowed values | Description |\n|---|---|---|---|---|---|\n")
		}
		for _, n := range names {
			a := blk.Attributes[n]
			cells := []string{"`" + n + "`", "`" + typeexpr.TypeString(a.Type) + "`", kind(a), defaultOf(a), allowed(a)}
			if costs {
				cost := cost(a.Cost)
				if a.Computed && !a.Optional && !a.Required {
					cost = ""
				}
				cells = append(cells, cost)
			}
			cells = append(cells, describe(a))
			for i := range cells {
				cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
			}
			fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
		}
		b.WriteString("\n")
	}
	for _, n := range slices.Sorted(maps.Keys(blk.Blocks)) {
		nb := blk.Blocks[n]
		full := n
		if path != "" {
			full = path + "." + n
		}
		fmt.Fprintf(b, "### Block `%s`\n\n", full)
		switch nb.Nesting {
		case providers.NestingSingle:
			fmt.Fprintf(b, "`%s { ... }`, at most once.", n)
		case providers.NestingList:
			fmt.Fprintf(b, "`%s { ... }`, any number of times; their order matters.", n)
		case providers.NestingMap:
			labels := "any name"
			if len(nb.Labels) > 0 {
				labels = "one of " + strings.Join(quoteAll(nb.Labels), ", ")
			}
			fmt.Fprintf(b, "`%s \"NAME\" { ... }`, once per name; the name is %s.", n, labels)
		}
		if nb.MinItems > 0 {
			fmt.Fprintf(b, " At least %d.", nb.MinItems)
		}
		if nb.MaxItems > 0 {
			fmt.Fprintf(b, " At most %d.", nb.MaxItems)
		}
		if costs {
			fmt.Fprintf(b, " Adding or removing one: %s.", cost(nb.Cost))
		}
		b.WriteString(" A `dynamic` block can write it.\n\n")
		writeBlock(b, nb.Block, full, costs)
	}
}

func kind(a *providers.Attribute) string {
	var k string
	switch {
	case a.Required:
		k = "required"
	case a.Optional && a.Computed:
		k = "optional, computed when left out"
	case a.Optional:
		k = "optional"
	default:
		k = "computed"
	}
	if a.Sensitive {
		k += ", sensitive"
	}
	return k
}

func defaultOf(a *providers.Attribute) string {
	if a.Default == cty.NilVal || a.Default.IsNull() {
		return ""
	}
	return "`" + strings.TrimSpace(string(hclwrite.TokensForValue(a.Default).Bytes())) + "`"
}

func allowed(a *providers.Attribute) string {
	return strings.Join(quoteAll(a.Allowed), ", ")
}

func describe(a *providers.Attribute) string {
	d := a.Description
	if a.Reference {
		d += " (a reference written bare, such as `container.host[0]`; stored as the address)"
	}
	if a.HostPath {
		d += " (a host path, relative to the lab directory; one outside it needs `allow_host_paths = true` in the lab block)"
	}
	return strings.ReplaceAll(d, "\n", " ")
}

func cost(c providers.Cost) string {
	switch c {
	case providers.InPlace:
		return "in place"
	case providers.Restart:
		return "restart"
	case providers.Replace:
		return "replace"
	}
	return ""
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return out
}
