variable "rules" {
  default = [{ port = 22 }, { port = 80 }]
}

firewall_chain "b" {
  target = lab
  hooks  = ["INPUT"]
  dynamic "rules" { # ERROR: Unsupported block type
    for_each = var.rules
    content {}
  }
}

firewall_chain "d" {
  target = lab
  hooks  = ["INPUT"]
  dynamic "rule" {
    for_each = var.rules
    iterator = r
    content {
      action = "accept"
      dport  = rule.value.port # ERROR: Unknown variable
    }
  }
}

firewall_chain "e" {
  target = lab
  hooks  = ["INPUT"]
  dynamic "rule" { # ERROR: Missing dynamic content block
    for_each = var.rules
  }
}
