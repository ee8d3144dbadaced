container "web" {
  rootfs   = "rootfs-v2"
  hostname = "web"
  lifecycle {
    create_before_destroy = true
  }
}

container "db" {
  rootfs   = "rootfs"
  hostname = "database"
  lifecycle {
    ignore_changes = [hostname]
  }
}
