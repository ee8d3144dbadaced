container "host" {
  rootfs = "rootfs"
}

# netd's allowlist, hooked from OUTPUT so that owner matches apply.
firewall_chain "out_allow" {
  target     = container.host
  family     = "both"
  hooks      = ["OUTPUT"]
  mode       = "allowlist"
  uids       = [10001, 10002]
  interfaces = ["eth1"]
  rule {
    protocol = "tcp"
    dport    = 443
    action   = "accept"
    comment  = "https out"
  }
  rule {
    protocol    = "udp"
    destination = "10.0.0.0/8"
    dport       = "5000-5100"
    ct_state    = ["new", "established"]
    action      = "accept"
  }
  rule {
    protocol    = "tcp"
    destination = "2001:db8::/32"
    action      = "reject"
  }
}

# DESIGN.md's shape: an allowlist hooked from INPUT has no owner rules.
firewall_chain "host_in" {
  target = container.host
  hooks  = ["INPUT"]
  mode   = "allowlist"
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
  rule {
    protocol  = "icmp"
    icmp_type = "echo-request"
    action    = "accept"
  }
  rule {
    protocol = "ospf" # a name from /etc/protocols, as iptables takes it
    action   = "accept"
  }
  rule {
    protocol = "112" # vrrp, by number
    action   = "accept"
  }
}

firewall_chain "deny" {
  target = lab
  family = "both"
  hooks  = ["OUTPUT"]
  mode   = "denylist"
  uids   = [10005]
  rule {
    source  = "192.0.2.0/24"
    action  = "drop"
    comment = "TEST-NET-1"
  }
  rule {
    protocol  = "icmpv6"
    icmp_type = "echo-request"
    action    = "jump"
    jump      = "pings"
  }
}

# A chain that other chains jump to, in the same namespace and families.
firewall_chain "pings" {
  target = lab
  family = "both"
  rule {
    protocol = "icmpv6"
    action   = "accept"
    comment  = "echo"
  }
}
