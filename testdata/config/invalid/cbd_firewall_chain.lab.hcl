container "h" {
  rootfs = "rootfs"
}

firewall_chain "host_in" {
  target = container.h
  hooks  = ["INPUT"]
  lifecycle {
    create_before_destroy = true # ERROR: create_before_destroy is not possible here
  }
}
