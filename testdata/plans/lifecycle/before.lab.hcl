container "web" {
  rootfs   = "rootfs-v1"
  hostname = "web"
  lifecycle {
    create_before_destroy = true
  }
}

container "db" {
  rootfs   = "rootfs"
  hostname = "db"
  lifecycle {
    ignore_changes = [hostname]
  }
}
