// Package labnet holds what the providers that touch a lab's networks
// share: network namespaces (the lab's own, and each container's), the
// names of ports, veth pairs, addresses and routes. The lab namespace is
// created by whichever provider needs it first and removed by whichever
// leaves it holding nothing but lo and doomed interfaces, under a lock of
// its own per lab.
//
// It imports only the providers contract (for the naming rules);
// never a provider, config, planner or state.
package labnet
