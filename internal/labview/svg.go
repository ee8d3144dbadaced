package labview

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"strings"
)

// Layout lays out a DOT graph as SVG (internal/graphviz, run by labform
// in its helper program).
type Layout func(ctx context.Context, dot []byte) ([]byte, error)

// WriteSVG writes the topology laid out as SVG. Each node's tooltip holds
// its details.
func WriteSVG(ctx context.Context, w io.Writer, lab *Lab, layout Layout) error {
	svg, err := renderSVG(ctx, lab, layout)
	if err != nil {
		return err
	}
	_, err = w.Write(svg)
	return err
}

func renderSVG(ctx context.Context, lab *Lab, layout Layout) ([]byte, error) {
	var dot bytes.Buffer
	if err := WriteDOT(&dot, lab); err != nil {
		return nil, err
	}
	return layout(ctx, dot.Bytes())
}

// pageTemplate is the HTML page: the SVG, and a panel that shows the
// details of the node under the pointer (from the status model, as JSON).
const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lab {{NAME}}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 1em; background: #fff; color: #222; }
#picture svg { max-width: 100%; height: auto; }
#details { position: fixed; right: 1em; top: 1em; width: 26em; min-height: 3em; padding: .6em .8em;
  border: 1px solid #999; background: #f8f8f8; font-size: 13px; white-space: pre-wrap; }
#details:empty::before { content: "Point at a node to see its details."; color: #777; }
#picture g.node { cursor: default; }
#picture g.node:hover polygon, #picture g.node:hover path, #picture g.node:hover ellipse { stroke: #06c; stroke-width: 2; }
</style>
</head>
<body>
<h1>labform topology</h1>
<div id="picture">{{SVG}}</div>
<div id="details"></div>
<script id="lab-data" type="application/json">{{DATA}}</script>
<script>
(function () {
  var lab = JSON.parse(document.getElementById("lab-data").textContent);
  var byAddr = {};
  (lab.nodes || []).forEach(function (n) { byAddr[n.address] = n; });
  var details = document.getElementById("details");
  function describe(n) {
    var lines = [n.address + " (" + (n.provider === n.type ? n.type : n.provider + " " + n.type) + ")"];
    if (n.state) lines.push("state: " + n.state);
    if (n.pid) lines.push("pid: " + n.pid);
    if (n.image) lines.push("image: " + n.image);
    if (n.mgmt_address) lines.push("mgmt: " + n.mgmt_address);
    (n.ports || []).forEach(function (p) {
      var s = "port " + p.index + ": " + p.inside;
      if (p.host) s += " (host " + p.host + ")";
      if (p.addresses) s += " " + p.addresses.join(",");
      if (p.link) s += " -> " + p.link;
      lines.push(s);
    });
    if (n.console && n.console.command) lines.push("console: " + n.console.command);
    (n.firewall_chains || []).forEach(function (c) { lines.push("firewall: " + c); });
    return lines.join("\n");
  }
  var wired = 0;
  document.querySelectorAll("#picture g.node").forEach(function (g) {
    var t = g.querySelector("title");
    var n = t && byAddr[t.textContent];
    if (!n) return;
    g.addEventListener("mouseenter", function () { details.textContent = describe(n); });
    wired++;
  });
  // How many nodes show details on hover (what a test reads back).
  document.body.setAttribute("data-hover-nodes", String(wired));
})();
</script>
</body>
</html>
`

// WriteHTML writes a page that shows the topology's SVG and each node's
// details on hover; it needs nothing but a browser.
func WriteHTML(ctx context.Context, w io.Writer, lab *Lab, layout Layout) error {
	svg, err := renderSVG(ctx, lab, layout)
	if err != nil {
		return err
	}
	// The SVG without its XML prolog, inline in the page.
	if i := bytes.Index(svg, []byte("<svg")); i > 0 {
		svg = svg[i:]
	}
	data, err := json.Marshal(lab) // escapes <, > and & as \u003c...: safe in a script element
	if err != nil {
		return err
	}
	page := strings.NewReplacer("{{NAME}}", html.EscapeString(lab.Name), "{{SVG}}", string(svg), "{{DATA}}", string(data)).Replace(pageTemplate)
	_, err = io.WriteString(w, page)
	return err
}
