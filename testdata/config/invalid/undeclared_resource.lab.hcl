vm "spine" {
  adapters = 2
}
container "c" {
  rootfs = "r"
}
link "l" {
  endpoints = [vm.spien.port[0], container.c.port[0]] # ERROR: Reference to undeclared resource
}
