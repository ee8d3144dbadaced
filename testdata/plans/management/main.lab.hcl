# The lab of before.lab.hcl with container.c[2] gone and container.a new:
# c[0], c[1] and vm.r keep their addresses, a takes the lowest free one.
lab {
  management {
    subnet  = "172.30.0.0/24"
    subnet6 = "fd00:30::/64"
  }
}

container "c" {
  count   = 2
  rootfs  = "rootfs"
  command = ["sleep", "infinity"]
}

container "a" {
  rootfs   = "rootfs"
  command  = ["sleep", "infinity"]
  hostname = "alpha"
}

vm "r" {
  adapters = 2
}

output "r_mgmt" {
  value = vm.r.mgmt_address
}
