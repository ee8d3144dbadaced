variable "leaves" {
  type    = number
  default = 2
}

vm "spine" {
  adapters = 2
  memroy   = 512
}

container "host" {
  count  = var.leafs
  rootfs = "rootfs"
}

link "l" {
  endpoints = [vm.spien.port[0], vm.spine.port[1]]
}
