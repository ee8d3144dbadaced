# containerlab's frr01, without workarounds: three FRR routers in a
# triangle running OSPF, from the frrouting/frr image. Each router's
# frr.conf is a file block: an edit is applied in place with vtysh -b;
# the daemons file comes from configs/. The containers are network nodes
# by default (NET_ADMIN, NET_RAW, writable net.* sysctls), which FRR needs.
#
#   labform -chdir=examples/frr01 init     # fetches the image once
#   labform -chdir=examples/frr01 apply
#   runc --root /run/labform/runc-<lab id> exec lf-<id> vtysh -c 'show ip ospf neighbor'

lab {
  name = "frr01"
}

locals {
  routers = {
    router1 = { id = 1 }
    router2 = { id = 2 }
    router3 = { id = 3 }
  }
  # The triangle: link name -> [router, port, router, port]
  wires = {
    r1r2 = ["router1", 0, "router2", 0]
    r2r3 = ["router2", 1, "router3", 0]
    r3r1 = ["router3", 1, "router1", 1]
  }
}

container "router" {
  for_each = local.routers
  image    = "frrouting/frr:v8.4.1"
  hostname = each.key
  ports    = 2
  sysctl = {
    "net.ipv4.ip_forward" = "1"
  }

  file {
    path   = "/etc/frr/daemons"
    source = "configs/daemons"
    owner  = "frr:frr"
  }
  file {
    path      = "/etc/frr/frr.conf"
    owner     = "frr:frr"
    mode      = "0640"
    on_change = ["vtysh", "-b"]
    content   = <<-EOT
      frr defaults traditional
      hostname ${each.key}
      log stdout
      !
      interface eth0
       ip address ${each.value.id == 3 ? "10.23.0.3/24" : "10.12.0.${each.value.id}/24"}
      !
      interface eth1
       ip address ${each.value.id == 1 ? "10.31.0.1/24" : each.value.id == 2 ? "10.23.0.2/24" : "10.31.0.3/24"}
      !
      interface lo
       ip address 10.255.0.${each.value.id}/32
      !
      router ospf
       ospf router-id 10.255.0.${each.value.id}
       network 10.0.0.0/8 area 0
      !
      line vty
      !
    EOT
  }
}

link "wire" {
  for_each  = local.wires
  endpoints = [container.router[each.value[0]].port[each.value[1]], container.router[each.value[2]].port[each.value[3]]]
}
