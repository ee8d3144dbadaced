// Package netfilter is the provider of firewall_chain resources, applied
// with iptables-restore or nft.
//
// It imports the providers contract and labnet. It must never
// import config, planner, state or another provider.
package netfilter
