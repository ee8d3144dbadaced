host "edge1" {
  ssh           = "root@127.0.0.1:1"
  identity_file = "id"
  known_hosts   = "known_hosts"
  underlay      = "127.0.0.1"
}

host "edge2" {
  ssh           = "127.0.0.1"
  identity_file = "id"
  known_hosts   = "known_hosts"
  underlay      = "127.0.0.2"
}

container "a" {
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}

container "b" {
  host    = host.edge1
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}

container "c" {
  host    = host.edge3
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}

container "d" {
  host    = "edge1"
  rootfs  = "rootfs"
  command = ["sleep", "3600"]
}

link "ab" {
  endpoints = [container.a.port[0], container.b.port[0]]
  mtu       = 1500
}

link "placed" {
  host      = host.edge1
  endpoints = [container.a.port[1], container.b.port[1]]
}
