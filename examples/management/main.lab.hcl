# Every node reachable from the host: a management network. Each node gets
# one more interface on a bridge in the host's namespace (a container's
# mgmt0), the host holds the subnet's first address, and the containers'
# /etc/hosts lists every node by name. See docs/management.md.
#
# The containers need a busybox root filesystem in ./rootfs, e.g.:
#   mkdir -p rootfs/bin && cp "$(command -v busybox)" rootfs/bin/ &&
#   for a in sh sleep ping cat ip; do ln -sf busybox rootfs/bin/$a; done
#
# Then, as root:
#   labform -chdir=examples/management apply
#   labform -chdir=examples/management output
#   busybox ping -c 1 "$(labform -chdir=examples/management output -raw web)"

lab {
  name = "mgmtdemo"
  management {
    subnet  = "172.30.0.0/24"
    subnet6 = "fd00:30::/64"
  }
}

container "host" {
  count        = 2
  rootfs       = "${path.module}/rootfs"
  command      = ["sleep", "infinity"]
  capabilities = ["CAP_NET_RAW"] # for ping inside
}

container "web" {
  rootfs       = "${path.module}/rootfs"
  command      = ["sleep", "infinity"]
  capabilities = ["CAP_NET_RAW"]
  mgmt_address = "172.30.0.80" # a fixed address; the others are assigned
}

output "hosts" {
  value = { for i, h in container.host : "host-${i}" => h.mgmt_address }
}

output "web" {
  value = container.web.mgmt_address
}
