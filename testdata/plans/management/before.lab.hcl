# A lab on a management network; main.lab.hcl adds a node and removes
# another: the nodes that stay keep their addresses.
lab {
  management {
    subnet  = "172.30.0.0/24"
    subnet6 = "fd00:30::/64"
  }
}

container "c" {
  count   = 3
  rootfs  = "rootfs"
  command = ["sleep", "infinity"]
}

vm "r" {
  adapters = 2
}
