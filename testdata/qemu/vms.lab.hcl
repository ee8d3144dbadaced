# Representative QEMU VMs whose command lines are pinned in argv.golden.

lab {
  allow_host_paths = true # vm.disks's hdd is a host image
}

# Every disk interface, a cdrom, a BIOS and a boot order.
vm "disks" {
  provider      = qemu
  image         = "images/base.qcow2"
  hda_interface = "ide"
  disk "hdb" {
    image     = "images/data.qcow2"
    interface = "sata"
  }
  disk "hdc" {
    image     = "images/scsi.raw"
    interface = "scsi"
  }
  disk "hdd" {
    image     = "/var/lib/images/fast.qcow2"
    interface = "virtio"
  }
  cdrom        = "iso/install.iso"
  bios         = "bios/seabios.bin"
  boot_order   = "dc"
  memory       = 512
  cpus         = 2
  console      = "telnet"
  console_port = 5001
}

# Kernel boot, paused at start, no console, no adapters.
vm "kernel" {
  provider    = qemu
  kernel      = "boot/vmlinuz"
  initrd      = "boot/initrd.gz"
  kernel_args = "console=ttyS0 panic=-1 quiet"
  adapters    = 0
  console     = "none"
  state       = "paused"
  memory      = 128
  guest_agent = true
}

vm "vnc" {
  provider     = qemu
  console      = "vnc"
  console_port = 5905
  adapters     = 2
  adapter_type = "virtio-net-pci"
  mac_address  = "0c:7a:1e:00:00:fe"
}

vm "spice" {
  provider     = qemu
  console      = "spice"
  console_port = 5930
  adapter_type = "rtl8139"
}

# One adapter, and forty: those beyond the root bus go behind PCI bridges.
vm "one" {
  provider     = qemu
  console      = "telnet"
  console_port = 5002
}

vm "forty" {
  provider     = qemu
  adapters     = 40
  console      = "telnet"
  console_port = 5003
}

# extra_args: split like a shell, placeholders substituted per word, and a
# -uuid of the user's replaces labform's.
vm "extra" {
  provider     = qemu
  console      = "telnet"
  console_port = 5004
  extra_args   = "-smbios 'type=1,product=%lab-name% lab,serial=%vm-id%' -uuid 6b4f0c32-0000-4000-8000-000000000001 -fw_cfg name=opt/labform/name,string=%vm-name% -D \"%lab-path%/qemu debug.log\""
}

vm "arm" {
  provider     = qemu
  platform     = "aarch64"
  kernel       = "boot/Image"
  console      = "telnet"
  console_port = 5005
}

# A for_each key with commas: in -name and wherever %vm-name% sits in an
# option list, its commas are doubled (QEMU's escaping), so that it never
# becomes a sub-option; -D takes a file name whole.
vm "keyed" {
  for_each     = toset(["k,guest=on"])
  provider     = qemu
  console      = "telnet"
  console_port = 5006
  adapters     = 0
  extra_args   = "-fw_cfg name=opt/labform/name,string=%vm-name% -device e1000,id=%vm-name% -D %lab-path%/%vm-name%.log"
}

# File blocks and cloud_init: a config disk (NoCloud, label cidata) on IDE
# index 3, beside the cdrom on index 2.
vm "configured" {
  provider = qemu
  image    = "images/debian.qcow2"
  cdrom    = "iso/tools.iso"
  console  = "none"
  file {
    path    = "/etc/frr/frr.conf"
    content = "hostname configured\n"
    mode    = "0640"
    owner   = "frr:frr"
  }
  cloud_init {
    network_config = "version: 2\n"
  }
}
