# container.old leaves labform's care but keeps running;
# container.gone is destroyed, as any resource taken out.

removed {
  from = container.old
  lifecycle {
    destroy = false
  }
}

removed {
  from = container.gone
  lifecycle {
    destroy = true
  }
}

container "keep" {
  rootfs = "rootfs"
}
