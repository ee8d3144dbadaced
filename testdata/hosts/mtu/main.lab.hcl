host "edge1" {
  ssh           = "root@127.0.0.1:1"
  identity_file = "id"
  known_hosts   = "known_hosts"
  underlay      = "127.0.0.1"
  underlay_mtu  = 1500
}

container "a" {
  ports   = 2
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}

container "b" {
  host    = host.edge1
  ports   = 2
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}

link "ab" {
  endpoints = [container.a.port[0], container.b.port[0]]
  mtu       = 1500
}

# The default mtu of a link across hosts leaves room for VXLAN.
link "fits" {
  endpoints = [container.a.port[1], container.b.port[1]]
}
