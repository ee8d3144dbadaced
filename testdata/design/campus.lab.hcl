lab {
  name = "campus"          # optional; defaults to the directory's name
}

variable "leaves" {
  type        = number
  default     = 2
  description = "how many leaf routers"
  validation {
    condition     = var.leaves >= 1 && var.leaves <= 64
    error_message = "leaves must be between 1 and 64"
  }
}

locals {
  rootfs = "${path.module}/rootfs"
}

provider "qemu" {
  accel = "auto"           # kvm when /dev/kvm is usable, else tcg
}

provider "netfilter" {
  backend = "iptables"     # or "nftables"
}

vm "spine" {
  provider     = qemu
  image        = "images/router.qcow2"   # hda; a linked clone (qcow2 overlay) by default
  memory       = 512                     # MiB
  cpus         = 2
  adapters     = 4
  adapter_type = "virtio-net-pci"
  console      = "telnet"                # telnet | vnc | spice | none
}

vm "leaf" {
  count        = var.leaves
  provider     = virtualbox
  template     = "router-base"           # VirtualBox VM to clone (linked, from a snapshot)
  memory       = 256
  adapters     = 2
}

container "host" {
  count    = var.leaves
  rootfs   = local.rootfs
  command  = ["sleep", "infinity"]
  hostname = "host${count.index}"
  ports    = 2                           # eth0, eth1
  addresses = {
    eth1 = ["10.0.${count.index}.2/24"]
  }
  routes = {
    default = "10.0.${count.index}.1"
  }
  resources {
    memory = "64MiB"
    pids   = 64
  }
}

link "spine_leaf" {
  count     = var.leaves
  endpoints = [vm.spine.port[count.index], vm.leaf[count.index].port[0]]
  impairment {
    delay = "5ms"
    loss  = "0.1%"
  }
}

link "leaf_host" {
  count     = var.leaves
  endpoints = [vm.leaf[count.index].port[1], container.host[count.index].port[1]]
}

firewall_chain "host_in" {
  count  = var.leaves
  target = container.host[count.index]   # the chain lives in that container's network namespace
  hooks  = ["INPUT"]
  mode   = "allowlist"
  rule {
    protocol = "tcp"
    dport    = 22
    action   = "accept"
  }
}

output "spine_console" {
  value = vm.spine.console_port
}
