vm "spine" {
  memory      = 1024
  adapters    = 2
  image       = "images/router.qcow2"
  kernel_args = <<-EOT
    console=ttyS0
    net.ifnames=0
    panic=-1
  EOT
}

vm "edge" {
  image = "images/b.qcow2"
}

container "host" {
  count  = 2
  rootfs = "rootfs"
  ports  = 1
  resources {
    memory = "128MiB"
  }
}

link "wire" {
  count     = 1
  endpoints = [vm.spine.port[count.index], container.host[count.index].port[0]]
}

firewall_chain "fw" {
  target = container.host[0]
  rule {
    action   = "accept"
    protocol = "tcp"
    dport    = 22
  }
  rule {
    action   = "accept"
    protocol = "tcp"
    dport    = 443
  }
  rule {
    action = "drop"
  }
}
