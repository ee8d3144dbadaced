# Paths outside the lab directory are refused unless the lab block says
# allow_host_paths = true.
container "c" {
  rootfs = "/" # ERROR: Path outside the lab directory
  mount {
    source      = "/etc" # ERROR: Path outside the lab directory
    destination = "/etc"
    options     = ["rbind", "rw"]
  }
  mount {
    source      = "shared/data"
    destination = "/data"
  }
  mount {
    type        = "tmpfs"
    source      = "tmpfs"
    destination = "/tmp"
  }
}
container "d" {
  count  = 3
  rootfs = "${path.module}/../../../rootfs" # ERROR: Path outside the lab directory
}
vm "v" {
  image  = "images/router.qcow2"
  kernel = "/boot/vmlinuz" # ERROR: Path outside the lab directory
  initrd = "../initrd.gz" # ERROR: Path outside the lab directory
  cdrom  = "/dev/sda" # ERROR: Path outside the lab directory
  bios   = "bios/../../bios.bin" # ERROR: Path outside the lab directory
  disk "hdb" {
    image = "/var/lib/images/disk.qcow2" # ERROR: Path outside the lab directory
  }
  file {
    path   = "/etc/shadow"
    source = "/etc/shadow" # ERROR: Path outside the lab directory
  }
  file {
    path   = "/etc/frr"
    source = "configs/frr"
  }
}
