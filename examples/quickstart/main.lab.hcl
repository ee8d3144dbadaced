# A small lab: one QEMU router with a busybox container on each of its
# ports, the containers also on a shared LAN, and a firewall chain on the
# first host. make demo builds the containers' rootfs and applies it all.
# The router is diskless (give it an image to boot a real router OS).

lab {
  name = "quickstart"
}

variable "hosts" {
  type        = number
  default     = 2
  description = "how many hosts hang off the router"
  validation {
    condition     = var.hosts >= 2 && var.hosts <= 4
    error_message = "hosts must be between 2 and 4 (a LAN joins two or more; the router has 4 adapters)"
  }
}

locals {
  rootfs = "${path.module}/rootfs"
}

provider "qemu" {
  accel = "auto"
}

vm "router" {
  provider = qemu
  memory   = 128
  cpus     = 1
  adapters = 4
  console  = "telnet"
}

container "host" {
  count    = var.hosts
  rootfs   = local.rootfs
  command  = ["sleep", "infinity"]
  hostname = "host${count.index}"
  ports    = 2
  addresses = {
    eth0 = ["10.10.${count.index}.2/24"]
    eth1 = ["10.20.0.${count.index + 1}/24"]
  }
  routes = {
    default = "10.10.${count.index}.1"
  }
  resources {
    memory = "32MiB"
    pids   = 32
  }
}

link "uplink" {
  count     = var.hosts
  endpoints = [vm.router.port[count.index], container.host[count.index].port[0]]
}

# The hosts' second ports share one segment.
link "lan" {
  endpoints = container.host[*].port[1]
  impairment {
    rate = "100mbit"
  }
}

# host0 takes ssh and the replies to its own connections; anything else
# coming in (a ping from host1, say) is dropped.
firewall_chain "host_in" {
  target = container.host[0]
  hooks  = ["INPUT"]
  mode   = "allowlist"
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
    comment  = "ssh"
  }
  rule {
    ct_state = ["established", "related"]
    action   = "accept"
  }
}

output "router_console" {
  value = vm.router.console_port
}

output "host_netns" {
  value = container.host[*].netns
}

# What the lab must do, checked after every apply and by `labform test`
# (docs/checks.md).
check "hosts_share_the_lan" {
  ping {
    from = container.host[0]
    to   = "10.20.0.2"
  }
}

check "host0_drops_pings" {
  ping {
    from   = container.host[1]
    to     = "10.20.0.1"
    count  = 1
    expect = "no-reply"
  }
}

check "host0_takes_ssh" {
  tcp {
    from   = container.host[1]
    to     = "10.20.0.1"
    port   = 22
    expect = "refused" # let through by host_in; nothing listens, so a RST
  }
  tcp {
    from    = container.host[1]
    to      = "10.20.0.1"
    port    = 23
    expect  = "dropped" # not in host_in's allowlist
    timeout = "1s"
  }
}
