variable "rules" {
  default = [{ port = 22 }, { port = 80 }]
}

firewall_chain "a" {
  target = lab
  hooks  = ["INPUT"]
  dynamic "rule" {
    for_each = var.rules
    content {
      protocol = "tcp"
      dport    = rule.value.port
      action   = "acept" # ERROR: Invalid value for action
    }
  }
}

firewall_chain "c" {
  target = lab
  hooks  = ["INPUT"]
  dynamic "rule" {
    for_each = 3 # ERROR: Invalid dynamic for_each value
    content {
      action = "accept"
    }
  }
}

vm "v" {
  image = "x.qcow2"
  dynamic "disk" {
    for_each = toset(["hdb", "hdz"])
    labels   = [disk.key] # ERROR: Invalid dynamic block label
    content {
      image = "y.qcow2"
    }
  }
}

link "l" {
  endpoints = [container.n.port[0], container.n.port[1]]
  dynamic "impairment" {
    for_each = ["5ms", "6ms"]
    content { # ERROR: Duplicate impairment block
      delay = impairment.value
    }
  }
}

container "n" {
  rootfs = "rootfs"
  ports  = 2
}
