container "a" {
  rootfs = "rootfs"
  ports  = 2
}

container "b" {
  rootfs = "rootfs"
  ports  = 2
}

container "c" {
  rootfs = "rootfs"
  ports  = 2
}

link "lonely" {
  endpoints = [container.c.port[0]] # ERROR: Too few endpoints
}

link "first" {
  endpoints = [container.a.port[1], container.b.port[0]]
}

link "second" {
  endpoints = [container.a.port[1], container.b.port[0]] # ERROR: Port used by two links
}

link "shaped" {
  endpoints = [container.c.port[1], container.b.port[1]]
  impairment {
    rate = "8 furlongs" # ERROR: Invalid impairment
  }
}

link "badport" {
  endpoints = [container.a.port[2], container.a.port[0]] # ERROR: Port index out of range
}
