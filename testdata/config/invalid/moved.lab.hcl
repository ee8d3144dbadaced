container "a" {
  rootfs = "rootfs"
}

moved {
  from = container.a # ERROR: Moved object still exists
  to   = container.b
}

moved {
  from = container.x
  to   = vm.x # ERROR: Resource type mismatch
}

moved {
  from = container.c
  to   = container.d
}

moved {
  from = container.c # ERROR: Ambiguous move statements
  to   = container.e
}

moved { # ERROR: Redundant move statement
  from = container.f
  to   = container.f
}

moved { # ERROR: Cyclic dependency in move statements
  from = container.g
  to   = container.h
}

moved {
  from = container.h
  to   = container.g
}

moved {
  from = module.pod
  to   = container.y # ERROR: Module and resource mismatch
}

moved {
  from = "container.q" # ERROR: Invalid address
  to   = container.y
}

removed {
  from = container.a # ERROR: Removed resource still exists
  lifecycle {
    destroy = false
  }
}

removed {
  from = container.c # ERROR: Moved and removed
  lifecycle {
    destroy = "maybe" # ERROR: Invalid value for destroy
  }
}
