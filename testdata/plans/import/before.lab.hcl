container "db" {
  rootfs = "rootfs"
}
