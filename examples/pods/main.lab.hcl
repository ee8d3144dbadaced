# Three pods from one module: each pod (modules/pod) is a spine container
# with two leaves; the core container links to every pod's spine through
# the pod's uplink output. The lab's output collects the leaves' addresses
# from the pods' outputs. The containers share the busybox rootfs that
# `make demo` builds for the quickstart (copy or link it to ./rootfs).

lab {
  name = "pods"
}

variable "pods" {
  type    = number
  default = 3
}

locals {
  rootfs = "${path.module}/rootfs"
}

container "core" {
  rootfs   = local.rootfs
  command  = ["sleep", "infinity"]
  hostname = "core"
  ports    = var.pods
  addresses = {
    for i in range(var.pods) : "eth${i}" => ["10.0.${i}.1/24"]
  }
}

module "pod" {
  source = "./modules/pod"
  count  = var.pods
  index  = count.index
  rootfs = local.rootfs
}

link "uplink" {
  count     = var.pods
  endpoints = [container.core.port[count.index], module.pod[count.index].uplink]
}

output "leaf_ips" {
  value = module.pod[*].leaf_ips
}
