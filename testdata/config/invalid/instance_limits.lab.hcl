# A resource has at most 10,000 instances (config.MaxInstances).
container "many" {
  count  = 100000 # ERROR: Invalid count argument
  rootfs = "rootfs"
}
container "keyed" {
  for_each = { for k in flatten([for i in range(11) : [for j in range(1024) : "${i}-${j}"]]) : k => k } # ERROR: Invalid for_each argument
  rootfs   = "rootfs"
}
