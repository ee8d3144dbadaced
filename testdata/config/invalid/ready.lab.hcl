# ready blocks: on vms and containers, with constant conditions.
container "r" {
  rootfs = "rootfs"
  ready {
    tcp      = "10.0.0.1:179"
    console  = "login:"
    exec     = ["vtysh", "-c", "show version"]
    timeout  = "120s"
    interval = "1s"
  }
}
container "bad" {
  rootfs = "rootfs"
  ready {
    tcp      = "10.0.0.1"  # ERROR: Invalid value for tcp
    console  = "login:("   # ERROR: Invalid value for console
    exec     = "vtysh"     # ERROR: Invalid value for exec
    timeout  = "forever"   # ERROR: Invalid value for timeout
    interval = var.i       # ERROR: Invalid ready condition
  }
}
container "twice" {
  rootfs = "rootfs"
  ready {
    console = "ok"
  }
  ready { # ERROR: Duplicate ready block
    console = "ok"
  }
}
container "empty" {
  rootfs = "rootfs"
  ready { # ERROR: Empty ready block
  }
}
vm "v" {
  memory = 64
  ready {
    exec = ["true"] # ERROR: Invalid value for exec
    tcp  = "10.0.0.1:99999" # ERROR: Invalid value for tcp
  }
}
link "l" {
  endpoints = [container.r.port[0], vm.v.port[0]]
  ready { # ERROR: Unsupported block type
    console = "x"
  }
}
variable "i" {
  default = "1s"
}
