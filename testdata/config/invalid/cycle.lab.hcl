container "a" { # ERROR: Dependency cycle
  rootfs   = "r"
  hostname = container.b.hostname
}
container "b" {
  rootfs   = "r"
  hostname = container.a.hostname
}
