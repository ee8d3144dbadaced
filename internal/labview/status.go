package labview

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteStatus writes the table of `labform status`: the nodes (one line
// each, then a line per port), the links, the firewall chains.
func WriteStatus(w io.Writer, lab *Lab) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	if len(lab.Nodes) == 0 && len(lab.Links) == 0 {
		fmt.Fprintf(w, "Lab %s has no nodes or links.\n", lab.Name)
		return nil
	}
	fmt.Fprintf(tw, "NODE\tPROVIDER\tSTATE\tPID\tIMAGE\tMGMT\tCONSOLE\n")
	for _, n := range lab.Nodes {
		pid := "-"
		if n.Pid > 0 {
			pid = strconv.Itoa(n.Pid)
		}
		state := n.State
		if n.Drifted {
			state += " (drifted)"
		}
		console := "-"
		if n.Console != nil {
			console = n.Console.Command
			if console == "" {
				console = n.Console.Kind + " " + n.Console.Address
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Address, n.Provider, state, pid, dash(n.Image), dash(n.MgmtAddress), console)
	}
	tw.Flush()
	fmt.Fprintf(tw, "\nPORT\tINSIDE\tHOST SIDE\tADDRESSES\tLINK\tPEER\n")
	for _, n := range lab.Nodes {
		for _, p := range n.Ports {
			var peers []string
			for _, e := range p.Peers {
				peers = append(peers, e.String())
			}
			fmt.Fprintf(tw, "%s[%d]\t%s\t%s\t%s\t%s\t%s\n", n.Address, p.Index, p.Inside, dash(p.Host), dash(strings.Join(p.Addresses, ",")), dash(p.Link), dash(strings.Join(peers, ", ")))
		}
	}
	tw.Flush()
	if len(lab.Links) > 0 {
		fmt.Fprintf(tw, "\nLINK\tSTATE\tIMPAIRMENT\tBRIDGE\tMEMBERS\n")
		for _, l := range lab.Links {
			var ms []string
			for _, m := range l.Members {
				ms = append(ms, m.String())
			}
			state := l.State
			if l.Drifted {
				state += " (drifted)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Address, state, dash(l.Impairment), dash(l.Bridge), strings.Join(ms, ", "))
		}
		tw.Flush()
	}
	if len(lab.Chains) > 0 {
		fmt.Fprintf(tw, "\nFIREWALL CHAIN\tTARGET\tMODE\tHOOKS\tRULES\n")
		for _, c := range lab.Chains {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", c.Address, c.Target, dash(c.Mode), dash(strings.Join(c.Hooks, ",")), c.Rules)
		}
		tw.Flush()
	}
	return nil
}

// StatusJSON is the document of `labform status -json`.
type StatusJSON struct {
	FormatVersion string `json:"format_version"`
	*Lab
}

// WriteStatusJSON writes the model as JSON.
func WriteStatusJSON(w io.Writer, lab *Lab) error {
	b, err := json.MarshalIndent(StatusJSON{FormatVersion: "1.0", Lab: lab}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
