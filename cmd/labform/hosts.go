package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/labform/labform/config"
	"github.com/labform/labform/config/addr"
	"github.com/labform/labform/providers"
	"github.com/labform/labform/providers/remote"
)

// expandHostTargets turns -target=host.NAME and -exclude=host.NAME into
// the resources placed on that host.
func expandHostTargets(lab *config.Lab, ts []addr.Target) ([]addr.Target, error) {
	var out []addr.Target
	for _, t := range ts {
		if t.Type != "host" {
			out = append(out, t)
			continue
		}
		if !t.Whole {
			return nil, fmt.Errorf("invalid address host.%s%s: a host is addressed as host.NAME", t.Name, t.Key)
		}
		rs, ok := lab.HostTargets(t.Name)
		if !ok {
			return nil, fmt.Errorf("no host %q is declared (hosts: %s)", t.Name, strings.Join(hostNames(lab), ", "))
		}
		for _, ra := range rs {
			out = append(out, addr.Target{Instance: addr.Instance{Resource: ra}, Whole: true})
		}
	}
	return out, nil
}

// hostNames are the lab's declared hosts, sorted, for messages that list
// them.
func hostNames(lab *config.Lab) []string {
	var names []string
	for n := range lab.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// reportHosts says, for init, what each host has: whether it can be
// reached, KVM, and the providers' tools that are missing there.
func (a *app) reportHosts(lab *config.Lab) {
	if len(lab.Hosts) == 0 {
		return
	}
	defer remote.CloseAll()
	fmt.Fprintln(a.io.out, "\nHosts:")
	for _, name := range hostNames(lab) {
		c, err := remote.Capabilities(lab.Hosts[name].Host, hostProviders(lab, name), lab.Dir)
		if err != nil {
			fmt.Fprintf(a.io.out, "- %s: UNREACHABLE: %v\n", name, err)
			continue
		}
		kvm := "no KVM (QEMU uses TCG)"
		if c.KVM {
			kvm = "KVM"
		}
		if c.NoNetem != "" {
			kvm += ", no netem (rate works; delay, jitter, loss, duplicate and corrupt cannot be emulated)"
		} else {
			kvm += ", netem"
		}
		missing := "every tool found"
		if len(c.Missing) > 0 {
			missing = "MISSING " + strings.Join(c.Missing, ", ")
		}
		dir := ""
		if c.NoLabDir {
			dir = fmt.Sprintf(", %s not there yet (plan and apply send the lab's files, at the same path)", lab.Dir)
		}
		fmt.Fprintf(a.io.out, "- %s (%s): %s, %s%s\n", name, c.Hostname, kvm, missing, dir)
	}
}

// hostProviders lists the providers a lab runs on host.
func hostProviders(lab *config.Lab, host string) []string {
	seen := map[string]bool{}
	rs, _ := lab.HostTargets(host)
	for _, ra := range rs {
		r := lab.Resources[ra]
		if r.Provider == providers.CrossHostProvider {
			seen["link"] = true
			continue
		}
		seen[providers.BaseName(r.Provider)] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
