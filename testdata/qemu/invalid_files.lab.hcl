# File blocks and cloud_init of VMs that validate refuses, each on its line.

vm "a" {
  provider = qemu
  file {
    path      = "/etc/frr/frr.conf"
    content   = "x"
    on_change = ["vtysh", "-b"] # ERROR: on_change is not supported here
  }
  file {
    path    = "etc/relative" # ERROR: Invalid file path
    content = "x"
  }
  file {
    path = "/etc/neither" # ERROR: File without content
  }
  file {
    path    = "/etc/both"
    content = "x"
    source  = "configs/both" # ERROR: Both content and source
  }
  file {
    path    = "/etc/mode"
    content = "x"
    mode    = "644o" # ERROR: Invalid file mode
  }
  file {
    path    = "/etc/owner"
    content = "x"
    owner   = "frr" # ERROR: Invalid file owner
  }
  file {
    path    = "/etc/frr/frr.conf" # ERROR: Duplicate file path
    content = "y"
  }
}

vm "b" {
  provider = qemu
  disk "hdd" {
    image     = "images/d.qcow2"
    interface = "ide" # ERROR: hdd and the config disk share a slot
  }
  cloud_init {
    user_data = "#cloud-config\n"
  }
}
