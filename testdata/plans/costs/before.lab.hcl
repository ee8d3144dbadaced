vm "spine" {
  memory      = 512
  adapters    = 2
  image       = "images/router.qcow2"
  kernel_args = <<-EOT
    console=ttyS0
    quiet
    net.ifnames=0
  EOT
}

vm "edge" {
  image = "images/a.qcow2"
}

container "host" {
  count  = 2
  rootfs = "rootfs"
  ports  = 1
  resources {
    memory = "64MiB"
  }
}

link "wire" {
  count     = 2
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
    dport    = 80
  }
  rule {
    action = "drop"
  }
}
