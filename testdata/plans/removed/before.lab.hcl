container "keep" {
  rootfs = "rootfs"
}

container "old" {
  count  = 2
  rootfs = "rootfs"
}

container "gone" {
  rootfs = "rootfs"
}
