package labview

import (
	"fmt"
	"io"
	"strings"

	"github.com/labform/labform/providers"
)

// The topology picture: the lab as its users draw it. Nodes are shaped by
// kind (a VM a 3-D box, a container a rounded box), each port end is
// labelled with its interface name, a point-to-point link is an edge, a
// segment is a bridge node with an edge to each member, a link's
// impairment and state are written on it (a link that is down is dashed
// and red), and firewall chains are noted on their node.

// nodeLabel is a node's text: address, provider, kind, state when not
// running, firewall chains.
func nodeLabel(n *Node) []string {
	kind := n.Type
	if n.Provider != n.Type {
		kind = n.Provider + " " + n.Type
	}
	lines := []string{n.Address, kind}
	if n.Image != "" {
		lines = append(lines, n.Image)
	}
	if n.State != "" && providers.RunState(n.State) != providers.Running {
		lines = append(lines, n.State)
	}
	for _, c := range n.Chains {
		lines = append(lines, "firewall "+strings.TrimPrefix(c, "firewall_chain."))
	}
	return lines
}

// linkLabel is what a link's edge (or bridge) says: its address, its
// impairment, and its state when down or not running.
func linkLabel(l *Link) []string {
	lines := []string{l.Address}
	if l.Segment() {
		lines[0] += " (segment)"
	}
	if l.Impairment != "" {
		lines = append(lines, l.Impairment)
	}
	if l.State != "" && l.State != "up" {
		lines = append(lines, l.State)
	}
	return lines
}

func (l *Link) down() bool { return l.State == "down" }

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// WriteDOT writes the topology in Graphviz DOT.
func WriteDOT(w io.Writer, lab *Lab) error {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s {\n", dotQuote(lab.Name))
	fmt.Fprintf(&b, "  graph [label=%s, labelloc=t, rankdir=LR, fontname=\"Helvetica\"]\n", dotQuote("lab "+lab.Name))
	b.WriteString("  node [fontname=\"Helvetica\", fontsize=11, margin=\"0.25,0.08\"]\n  edge [fontname=\"Helvetica\", fontsize=9]\n")
	for _, n := range lab.Nodes {
		shape := "box"
		style := "rounded"
		if n.Type == "vm" {
			shape, style = "box3d", "solid"
		}
		if n.State == NotCreated || n.State == Gone {
			style += ",dashed"
		}
		fmt.Fprintf(&b, "  %s [shape=%s, style=%s, label=%s, tooltip=%s]\n", dotQuote(n.Address), shape, dotQuote(style),
			dotQuote(strings.Join(nodeLabel(n), "\n")), dotQuote(tooltip(n)))
	}
	for _, l := range lab.Links {
		attrs := ""
		if l.down() {
			attrs = `, style=dashed, color="red", fontcolor="red"`
		}
		label := dotQuote(strings.Join(linkLabel(l), "\n"))
		if len(l.Members) == 2 {
			m0, m1 := l.Members[0], l.Members[1]
			fmt.Fprintf(&b, "  %s -- %s [label=%s, taillabel=%s, headlabel=%s, tooltip=%s%s]\n", dotQuote(m0.Node), dotQuote(m1.Node),
				label, dotQuote(iface(m0)), dotQuote(iface(m1)), label, attrs)
			continue
		}
		fmt.Fprintf(&b, "  %s [shape=ellipse, style=%s, label=%s, tooltip=%s]\n", dotQuote(l.Address),
			dotQuote(map[bool]string{true: "dashed", false: "solid"}[l.down()]), label, label)
		for _, m := range l.Members {
			fmt.Fprintf(&b, "  %s -- %s [taillabel=%s%s]\n", dotQuote(m.Node), dotQuote(l.Address), dotQuote(iface(m)), attrs)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// iface names a member's port end: its interface inside the node, or its
// port number when the node is unknown.
func iface(e Endpoint) string {
	if e.Interface != "" {
		return e.Interface
	}
	return fmt.Sprintf("port %d", e.Port)
}

// tooltip is a node's details, for the HTML page's hover.
func tooltip(n *Node) string {
	kind := n.Type
	if n.Provider != n.Type {
		kind = n.Provider + " " + n.Type
	}
	lines := []string{n.Address + " (" + kind + ")"}
	if n.State != "" {
		lines = append(lines, "state: "+n.State)
	}
	if n.Pid > 0 {
		lines = append(lines, fmt.Sprintf("pid: %d", n.Pid))
	}
	if n.Image != "" {
		lines = append(lines, "image: "+n.Image)
	}
	if n.MgmtAddress != "" {
		lines = append(lines, "mgmt: "+n.MgmtAddress)
	}
	for _, p := range n.Ports {
		s := fmt.Sprintf("port %d: %s", p.Index, p.Inside)
		if p.Host != "" {
			s += " (host " + p.Host + ")"
		}
		if len(p.Addresses) > 0 {
			s += " " + strings.Join(p.Addresses, ",")
		}
		if p.Link != "" {
			s += " -> " + p.Link
		}
		lines = append(lines, s)
	}
	if n.Console != nil && n.Console.Command != "" {
		lines = append(lines, "console: "+n.Console.Command)
	}
	return strings.Join(lines, "\n")
}

// mermaidText is a quoted Mermaid label of lines. Mermaid reads #name;
// and #number; as entity codes and labels as HTML, so '#', '"', '<' and
// '>' in the text (a for_each key may hold any of them) are written as
// entity codes, and only the line breaks are markup.
func mermaidText(lines []string) string {
	esc := strings.NewReplacer("#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;")
	quoted := make([]string, len(lines))
	for i, l := range lines {
		quoted[i] = esc.Replace(l)
	}
	return `"` + strings.Join(quoted, "<br/>") + `"`
}

// WriteMermaid writes the topology as a Mermaid flowchart, which GitHub
// and GitLab draw in Markdown.
func WriteMermaid(w io.Writer, lab *Lab) error {
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: lab %s\n---\nflowchart LR\n", lab.Name)
	ids := map[string]string{}
	for i, n := range lab.Nodes {
		id := fmt.Sprintf("n%d", i)
		ids[n.Address] = id
		open, close := "(", ")" // a container: rounded
		if n.Type == "vm" {
			open, close = "[[", "]]" // a VM: a box with sides
		}
		fmt.Fprintf(&b, "  %s%s%s%s\n", id, open, mermaidText(nodeLabel(n)), close)
	}
	var downEdges []int
	edge := 0
	arrow := func(l *Link) string {
		if l.down() {
			downEdges = append(downEdges, edge)
			return "-.-"
		}
		return "---"
	}
	for i, l := range lab.Links {
		if len(l.Members) == 2 {
			m0, m1 := l.Members[0], l.Members[1]
			label := append([]string{iface(m0) + " - " + iface(m1)}, linkLabel(l)...)
			fmt.Fprintf(&b, "  %s %s|%s| %s\n", nodeID(ids, m0.Node), arrow(l), mermaidText(label), nodeID(ids, m1.Node))
			edge++
			continue
		}
		sid := fmt.Sprintf("s%d", i)
		fmt.Fprintf(&b, "  %s{{%s}}\n", sid, mermaidText(linkLabel(l)))
		for _, m := range l.Members {
			fmt.Fprintf(&b, "  %s %s|%s| %s\n", nodeID(ids, m.Node), arrow(l), mermaidText([]string{iface(m)}), sid)
			edge++
		}
	}
	for _, e := range downEdges {
		fmt.Fprintf(&b, "  linkStyle %d stroke:red\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// nodeID is a node's Mermaid id; a member whose node is not in the lab
// (a typo the validate step reports) gets one of its own.
func nodeID(ids map[string]string, node string) string {
	if id, ok := ids[node]; ok {
		return id
	}
	id := fmt.Sprintf("u%d", len(ids))
	ids[node] = id
	return id + "[" + mermaidText([]string{node}) + "]"
}
