# Enum values are checked against the schema, once, for every provider.
provider "qemu" {
  accel = "kmv" # ERROR: Invalid value for accel
}
container "c" {
  rootfs = "rootfs"
  state  = "stoped" # ERROR: Invalid value for state
  hook {
    when = "prestrat" # ERROR: Invalid value for when
    path = "/bin/true"
  }
}
link "l" {
  endpoints = [container.c.port[0], vm.v.port[0]]
  state     = "dwon" # ERROR: Invalid value for state
}
vm "v" {
  console       = "telent" # ERROR: Invalid value for console
  hda_interface = "sats"   # ERROR: Invalid value for hda_interface
  state         = "RUNNING" # ERROR: Invalid value for state
  disk "hdb" {
    image     = "b.qcow2"
    interface = "virtoi" # ERROR: Invalid value for interface
  }
}
vm "vb" {
  provider = virtualbox
  template = "t"
  console  = "vnc" # ERROR: Invalid value for console
  state    = "saved"
}
firewall_chain "f" {
  target = lab
  family = "ipv5"     # ERROR: Invalid value for family
  mode   = "allowlst" # ERROR: Invalid value for mode
  rule {
    action   = "acept" # ERROR: Invalid value for action
    ct_state = ["new", "establised"] # ERROR: Invalid value for ct_state
  }
}
