variable "name" {
  type = string
}

variable "leaves" {
  type    = number
  default = 2
}

container "spine" {
  rootfs   = "rootfs"
  hostname = "${var.name}-spine"
  ports    = var.leaves + 1
}

container "leaf" {
  count    = var.leaves
  rootfs   = "rootfs"
  hostname = "${var.name}-leaf${count.index}"
  ports    = 1
}

link "leaf" {
  count     = var.leaves
  endpoints = [container.spine.port[count.index], container.leaf[count.index].port[0]]
}

output "uplink" {
  value = container.spine.port[var.leaves]
}

output "leaf_names" {
  value = container.leaf[*].hostname
}
