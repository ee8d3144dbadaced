# Resources without instances are still checked, with count.index,
# each.key and each.value unknown, as Terraform does.
variable "leaves" {
  type    = number
  default = 0
}

vm "spine" {
  adapters = 2
}

vm "leaf" {
  count  = var.leaves
  memory = "lots" # ERROR: Incorrect attribute value type
}

container "host" {
  for_each = {}
  rootfs   = "r/${each.key}"
  ports    = "two" # ERROR: Incorrect attribute value type
  hostname = each.value.name
}

# Valid bodies stay quiet: an unknown index into an empty tuple, into a
# node's ports, and into a for_each value.
link "leaf_wire" {
  count     = var.leaves
  endpoints = [vm.spine.port[count.index], vm.leaf[count.index].port[0]]
}

container "spare" {
  count    = 0
  rootfs   = "r${count.index}"
  hostname = "h${count.index + 1}"
  env      = { N = tostring(count.index) }
}

link "bad" {
  count     = 0
  endpoints = [vm.spine.port[count.index], vm.spine.port[7]] # ERROR: Port index out of range
}
