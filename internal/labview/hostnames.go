package labview

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/labform/labform/providers"
)

// WriteHostNames writes where an object lives on the host (what `state
// show` adds below its attributes): the names computed from its ID.
func WriteHostNames(w io.Writer, address string, d providers.Description) {
	rows := [][2]string{
		{"netns", d.Netns}, {"runtime_id", d.RuntimeID}, {"runtime_root", d.RuntimeRoot}, {"run_dir", d.RunDir},
		{"lab_netns", d.LabNetns}, {"bridge", d.Bridge}, {"host_interfaces", strings.Join(d.HostInterfaces, ", ")},
		{"log", d.Log},
	}
	for _, p := range d.Ports {
		rows = append(rows, [2]string{fmt.Sprintf("port[%d]", p.Index), fmt.Sprintf("%s inside, %s on the host side", p.Inside, p.Host)})
	}
	if d.Console != nil {
		c := d.Console.Command
		if c == "" {
			c = d.Console.Kind + " " + d.Console.Address
		}
		rows = append(rows, [2]string{"console", c})
	}
	fmt.Fprintf(w, "# %s on the host (names derived from its ID):\n", address)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, r := range rows {
		if r[1] != "" {
			fmt.Fprintf(tw, "    %s\t= %s\n", r[0], r[1])
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}
