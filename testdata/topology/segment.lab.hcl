# A lab with a segment: three routers on one LAN, one of them also wired
# to a host over a link that is down and shaped.

lab {
  name = "segment"
}

vm "core" {
  memory   = 128
  adapters = 2
}

container "r" {
  count  = 2
  rootfs = "rootfs"
  ports  = 1
  addresses = {
    eth0 = ["10.30.0.${count.index + 2}/24"]
  }
}

container "host" {
  rootfs = "rootfs"
  ports  = 1
}

link "lan" {
  endpoints = [vm.core.port[0], container.r[0].port[0], container.r[1].port[0]]
}

link "wan" {
  endpoints = [vm.core.port[1], container.host.port[0]]
  state     = "down"
  impairment {
    rate = "10mbit"
  }
}

firewall_chain "core_in" {
  target = container.host
  hooks  = ["INPUT"]
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
}
