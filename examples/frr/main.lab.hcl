# containerlab's frr01 lab, written for labform: three FRR routers running
# OSPF in a triangle, a PC behind each. The routers run from an OCI image
# (./setup.sh builds it from Debian's frr package into ./image, as these
# machines reach no registry; with one, `-var image=...` names another
# image that has bash and FRR's frrinit.sh), and each router's frr.conf
# comes from one template: edit the template and `labform plan` shows the
# change as a diff, which apply puts in place with `vtysh -b` (the routers
# keep running).
#
#   examples/frr/setup.sh                      # builds ./image (as root)
#   labform -chdir=examples/frr apply
#   labform -chdir=examples/frr exec 'container.router["router1"]' -- vtysh -c 'show ip ospf neighbor'
#   labform -chdir=examples/frr exec 'container.pc["PC1"]' -- ping -c3 192.168.13.2
#   labform -chdir=examples/frr destroy
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
  # zebra and ospfd want CAP_SYS_ADMIN besides a network node's defaults.
  cap_add = ["CAP_SYS_ADMIN"]
  sysctl = {
    "net.ipv4.ip_forward" = "1"
  }
  addresses = {
    eth0 = [each.value.eth0]
    eth1 = [each.value.eth1]
    eth2 = [each.value.eth2]
  }

  # The router counts as created once ospfd answers, so the PCs and
  # links come after a routing daemon that is up.
  ready {
    exec    = ["vtysh", "-c", "show ip ospf"]
    timeout = "60s"
  }

  file {
    path = "/etc/frr/frr.conf"
    content = templatefile("${path.module}/configs/frr.conf.tftpl", {
      name      = each.key
      router_id = "10.255.0.${each.value.id}"
      pc        = each.value.pc
      peers     = each.value.peers
    })
    owner     = "frr:frr"
    mode      = "0640"
    on_change = ["vtysh", "-b"]
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

# The lab proves itself after every apply and in CI (labform test):
# OSPF is Full on every router link, and each PC reaches the others
# across the routers.
check "ospf_full_router1" {
  exec {
    on      = container.router["router1"]
    command = ["vtysh", "-c", "show ip ospf neighbor"]
    output  = "Full(.|\n)*Full"
    retry   = "30s"
  }
}

check "pc1_reaches_pc3" {
  ping {
    from   = container.pc["PC1"]
    to     = "192.168.13.2"
    count  = 2
    expect = "reply"
    retry  = "30s"
  }
}

check "pc2_reaches_pc1" {
  ping {
    from   = container.pc["PC2"]
    to     = "192.168.11.2"
    count  = 2
    expect = "reply"
    retry  = "30s"
  }
}

output "pc_addresses" {
  value = { for name, pc in local.pcs : name => split("/", pc.address)[0] }
}

output "router_pids" {
  value = { for name, r in container.router : name => r.pid }
}
