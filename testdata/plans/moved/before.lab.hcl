container "r1" {
  rootfs   = "rootfs"
  hostname = "r1"
  ports    = 1
}

container "r2" {
  rootfs   = "rootfs"
  hostname = "r2"
  ports    = 1
}

container "spine" {
  rootfs   = "rootfs"
  hostname = "spine"
  ports    = 2
}

container "old" {
  count  = 2
  rootfs = "rootfs"
}

link "r1_spine" {
  endpoints = [container.r1.port[0], container.spine.port[0]]
}

firewall_chain "r1_in" {
  target = container.r1
  hooks  = ["INPUT"]
}
