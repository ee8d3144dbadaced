# QEMU VMs on a management network; their command lines are pinned in
# argv-mgmt.golden: the management NIC comes after the adapters, on the
# next tap fd, with the next MAC.

lab {
  management {
    subnet = "172.30.0.0/24"
  }
}

vm "router" {
  provider     = qemu
  adapters     = 2
  console      = "none"
  mgmt_address = "172.30.0.2"
}

vm "based" {
  provider     = qemu
  adapters     = 1
  mac_address  = "0c:7a:1e:00:00:10"
  console      = "none"
  mgmt_address = "172.30.0.3"
}

vm "plain" {
  provider = qemu
  adapters = 1
  console  = "none"
}
