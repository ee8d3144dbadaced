lab {
  name = "golden"
}

variable "token" {
  type      = string
  default   = "s3cret"
  sensitive = true
}

vm "spine" {
  memory      = 512
  cpus        = 2
  adapters    = 2
  image       = "images/router.qcow2"
  kernel_args = "console=ttyS0 quiet"
}

container "host" {
  for_each = toset(["a", "b"])
  rootfs   = "rootfs"
  hostname = "host-${each.key}"
  ports    = 1
  env = {
    TOKEN = var.token
  }
}

link "wire" {
  endpoints = [vm.spine.port[0], container.host["a"].port[0]]
  impairment {
    rate = "8mbit"
  }
}

output "spine_console" {
  value = vm.spine.console_port
}
