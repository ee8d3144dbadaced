// Package remote serves the objects a lab places on other hosts: a proxy
// provider per provider and host, which reaches `labform agent` on the
// host over SSH (one connection per host), and the provider of links
// whose ends sit on different hosts, made of a VXLAN tunnel between the
// hosts' lab namespaces.
//
// It imports the providers contract, config/addr (the addresses of the
// objects it reads in batches), internal/agent (the wire both sides
// speak) and the link provider, whose schema and tunnel halves a link
// across hosts shares. It must never import config, planner or state.
package remote
