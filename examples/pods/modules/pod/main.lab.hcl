# A pod: a spine container and its leaves, each leaf on one of the
# spine's ports. The spine's last port is the pod's uplink, which the lab
# links to its core through the uplink output.

variable "index" {
  type        = number
  description = "the pod's number: its leaves are on 10.<index+1>.<leaf>.0/24"
}

variable "leaves" {
  type    = number
  default = 2
}

variable "rootfs" {
  type = string
}

container "spine" {
  rootfs   = var.rootfs
  command  = ["sleep", "infinity"]
  hostname = "pod${var.index}-spine"
  ports    = var.leaves + 1
  addresses = merge(
    { for i in range(var.leaves) : "eth${i}" => ["10.${var.index + 1}.${i}.1/24"] },
    { "eth${var.leaves}" = ["10.0.${var.index}.2/24"] },
  )
  routes = {
    default = "10.0.${var.index}.1"
  }
}

container "leaf" {
  count    = var.leaves
  rootfs   = var.rootfs
  command  = ["sleep", "infinity"]
  hostname = "pod${var.index}-leaf${count.index}"
  ports    = 1
  addresses = {
    eth0 = ["10.${var.index + 1}.${count.index}.2/24"]
  }
  routes = {
    default = "10.${var.index + 1}.${count.index}.1"
  }
}

link "leaf" {
  count     = var.leaves
  endpoints = [container.spine.port[count.index], container.leaf[count.index].port[0]]
}

output "uplink" {
  value = container.spine.port[var.leaves]
}

output "leaf_ips" {
  value = [for l in container.leaf : split("/", l.addresses.eth0[0])[0]]
}
