# containerlab's frr01 lab, written for labform: three FRR routers running
# OSPF in a triangle, a PC behind each. The routers run from an OCI image
# (./setup.sh builds it from Debian's frr package into ./image), and each
# router's frr.conf comes from one template: edit the template and `labform
# plan` shows the change as a diff.
#
#        PC1                         PC2
#         |eth0                  eth0|
#      router1 eth1 ---------- eth1 router2
#         eth2 \                / eth2
#                eth1 router3 eth2
#                     eth0 |
#                         PC3

lab {
  name = "frr"
}

variable "image" {
  type        = string
  default     = "oci:image:frr"
  description = "the routers' and PCs' image; ./setup.sh builds this one"
}

locals {
  # Each router: its id, and each of its ports' address and neighbour.
  routers = {
    router1 = { id = 1, pc = "PC1", eth0 = "192.168.11.1/24", eth1 = "10.0.12.1/24", eth2 = "10.0.13.1/24", peers = { eth1 = "router2", eth2 = "router3" } }
    router2 = { id = 2, pc = "PC2", eth0 = "192.168.12.1/24", eth1 = "10.0.12.2/24", eth2 = "10.0.23.2/24", peers = { eth1 = "router1", eth2 = "router3" } }
    router3 = { id = 3, pc = "PC3", eth0 = "192.168.13.1/24", eth1 = "10.0.13.3/24", eth2 = "10.0.23.3/24", peers = { eth1 = "router1", eth2 = "router2" } }
  }
  pcs = {
    PC1 = { router = "router1", address = "192.168.11.2/24", gateway = "192.168.11.1" }
    PC2 = { router = "router2", address = "192.168.12.2/24", gateway = "192.168.12.1" }
    PC3 = { router = "router3", address = "192.168.13.2/24", gateway = "192.168.13.1" }
  }
}

container "router" {
  for_each = local.routers
  image    = var.image
  # frrinit.sh starts watchfrr and the daemons the daemons file names, then
  # returns; the container lives on in sleep.
  command  = ["/bin/bash", "-c", "/usr/lib/frr/frrinit.sh start && exec sleep infinity"]
  hostname = each.key
  ports    = 3
  addresses = {
    eth0 = [each.value.eth0]
    eth1 = [each.value.eth1]
    eth2 = [each.value.eth2]
  }

  file {
    path = "/etc/frr/frr.conf"
    content = templatefile("${path.module}/configs/frr.conf.tftpl", {
      name      = each.key
      router_id = "10.255.0.${each.value.id}"
      pc        = each.value.pc
      peers     = each.value.peers
    })
    owner = "frr:frr"
    mode  = "0640"
  }
  file {
    path   = "/etc/frr/daemons"
    source = "configs/daemons"
    owner  = "frr:frr"
    mode   = "0640"
  }
}

container "pc" {
  for_each = local.pcs
  image    = var.image
  command  = ["sleep", "infinity"]
  hostname = each.key
  addresses = {
    eth0 = [each.value.address]
  }
  routes = {
    default = each.value.gateway
  }
}

link "pc" {
  for_each  = local.pcs
  endpoints = [container.router[each.value.router].port[0], container.pc[each.key].port[0]]
}

link "router1_router2" {
  endpoints = [container.router["router1"].port[1], container.router["router2"].port[1]]
}

link "router1_router3" {
  endpoints = [container.router["router1"].port[2], container.router["router3"].port[1]]
}

link "router2_router3" {
  endpoints = [container.router["router2"].port[2], container.router["router3"].port[2]]
}

output "pc_addresses" {
  value = { for name, pc in local.pcs : name => split("/", pc.address)[0] }
}

output "router_pids" {
  value = { for name, r in container.router : name => r.pid }
}
