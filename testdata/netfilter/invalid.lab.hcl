container "host" {
  rootfs = "rootfs"
}

firewall_chain "bad" {
  target = container.host
  hooks  = ["INPUT", "PREROUTING"] # ERROR: Invalid hook
  uids   = [10001]                 # ERROR: Owner match from an input hook
  rule {
    source = "10.0.0.300" # ERROR: Invalid address
    action = "drop"
  }
  rule {
    dport  = 22 # ERROR: Port without a protocol
    action = "accept"
  }
  rule {
    protocol = "opsf" # ERROR: Invalid protocol
    action   = "accept"
  }
  rule {
    protocol = "256" # ERROR: Invalid protocol
    action   = "accept"
  }
  rule {
    protocol = "tcp"
    dport    = "70000" # ERROR: Invalid port
    action   = "accept"
  }
  rule {
    in_interface = "this-name-is-far-too-long" # ERROR: Invalid interface name
    action       = "accept"
  }
  rule {
    comment = "x\" -j ACCEPT\n-A INPUT" # ERROR: Invalid comment
    action  = "drop"
  }
  rule {
    source = "2001:db8::1" # ERROR: Address of the wrong family
    action = "drop"
  }
}

firewall_chain "jumper" {
  target = lab
  rule {
    action = "jump"
    jump   = "nowhere" # ERROR: Jump to an undeclared chain
  }
}

firewall_chain "a_chain_named_longer_than_28_chars" { # ERROR: Invalid chain name
  target = lab
}

firewall_chain "per_lab" {
  count  = 2
  target = lab # ERROR: Two chains with one name
}

firewall_chain "nft" {
  target  = lab
  backend = "nftables" # ERROR: Backend not implemented
}

firewall_chain "FORWARD" { # ERROR: Reserved chain name
  target = lab
}

firewall_chain "input" { # ERROR: Reserved chain name
  target = lab
  hooks  = ["INPUT"]
}

firewall_chain "Accept" { # ERROR: Reserved chain name
  target = lab
}
