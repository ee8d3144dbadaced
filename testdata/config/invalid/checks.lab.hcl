# check blocks: every probe argument is checked at load time.
container "pc" {
  for_each = toset(["PC1", "PC2"])
  rootfs   = "rootfs"
}
vm "v" {
  memory = 64
}
check "good" {
  ping {
    from = container.pc["PC1"]
    to   = "192.168.13.2"
  }
  tcp {
    from   = lab
    to     = container.pc["PC2"]
    port   = 22
    expect = "dropped"
  }
  exec {
    on      = container.pc["PC2"]
    command = ["vtysh", "-c", "show ip ospf neighbor"]
    output  = "Full(.|\n)*Full"
    retry   = "30s"
  }
  assert {
    condition     = length(container.pc) == 2
    error_message = "two PCs"
  }
}
check "bad" {
  ping {
    from   = container.pc["PC1"]
    to     = "192.168.13.300" # ERROR: Invalid value for to
    expect = "replies"        # ERROR: Invalid value for expect
    count  = 0                # ERROR: Invalid value for count
  }
  tcp {
    from   = "10.0.0.1" # ERROR: Invalid node for from
    to     = "10.0.0.2"
    port   = 70000   # ERROR: Invalid value for port
    expect = "closed" # ERROR: Invalid value for expect
  }
  exec {
    on      = vm.v # ERROR: Invalid node for on
    command = []   # ERROR: Invalid value for command
    output  = "Full(" # ERROR: Invalid value for output
    retry   = "soon"  # ERROR: Invalid value for retry
  }
  tcp { # ERROR: Missing required argument
    from = container.nosuch["x"] # ERROR: Reference to undeclared resource
    to   = "10.0.0.1"
  }
  ping {
    from    = container.pc["PC1"]
    to      = "10.0.0.1"
    timeot  = "1s" # ERROR: Unsupported argument
  }
}
check "empty" { # ERROR: Empty check
}
check "good" { # ERROR: Duplicate check
  assert {
    condition     = true
    error_message = "x"
  }
}
