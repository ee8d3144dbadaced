container "minimal" {
  rootfs  = "rootfs"
  command = ["sleep", "infinity"]
}
