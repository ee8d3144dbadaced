// Package netfilter is the provider of firewall_chain resources, applied
// with iptables-restore or nft.
//
// It imports the providers contract, labnet and internal/par (refresh
// reads the chains of many namespaces at once). It must never
// import config, planner, state or another provider.
package netfilter
