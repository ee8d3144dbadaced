// Package netfilter is the provider of firewall_chain resources, applied
// with iptables-restore or nft.
//
// A chain can have 10,000 rules. Apply starts iptables-restore as soon as
// the namespace is locked and writes its input through a pipe as the rule
// blocks are read and checked on every core (startChain, restoreProc);
// nothing is committed before every rule block has passed its checks.
//
// It imports the providers contract, labnet and internal/par (refresh
// reads the chains of many namespaces at once). It must never
// import config, planner, state or another provider.
package netfilter
