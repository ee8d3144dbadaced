vm "spine" {
  adapters = 2
}
vm "leaf" {
}
link "l" {
  endpoints = [vm.spine.port[2], vm.leaf.port[0]] # ERROR: Port index out of range
}
