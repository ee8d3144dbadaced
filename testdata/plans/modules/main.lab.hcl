# A pod (a spine and its leaves) used three times with count; the core
# links to each pod's spine through the pod's output.
lab {
  name = "golden"
}

module "pod" {
  source = "./modules/pod"
  count  = 3
  name   = "pod${count.index}"
  leaves = count.index == 2 ? 1 : 2
}

container "core" {
  rootfs   = "rootfs"
  hostname = "core"
  ports    = 3
}

link "uplink" {
  count     = 3
  endpoints = [container.core.port[count.index], module.pod[count.index].uplink]
}

output "leaves" {
  value = module.pod[*].leaf_names
}
