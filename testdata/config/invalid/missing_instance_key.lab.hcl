# A key or index that a resource does not have is named as such, with
# the keys it has, not taken for a port index.
container "c" {
  for_each = toset(["a", "b", "c"])
  rootfs   = "rootfs"
}
vm "leaf" {
  count = 2
}
link "l" {
  endpoints = [vm.leaf[0].port[0], container.c["x"].port[0]] # ERROR: No instance with this key
}
link "m" {
  for_each  = toset(["a", "z"])
  endpoints = [container.c[each.key].port[0], vm.leaf[1].port[0]] # ERROR: No instance with this key
}
link "n" {
  endpoints = [vm.leaf[0].port[0], vm.leaf[5].port[0]] # ERROR: No instance with this index
}
link "p" {
  endpoints = [vm.leaf[1].port[3], container.c["b"].port[0]] # ERROR: Port index out of range
}
