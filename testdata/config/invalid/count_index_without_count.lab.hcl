container "c" {
  rootfs   = "r"
  hostname = "h${count.index}" # ERROR: Reference to "count" in non-counted context
}
