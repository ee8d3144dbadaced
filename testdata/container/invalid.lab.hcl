container "bad" {
  rootfs       = "rootfs"
  capabilities = ["CAP_NET_ADMN"] # ERROR: Unknown capability

  rlimit {
    type = "RLIMIT_SGPENDING" # ERROR: Unknown rlimit
    soft = 1
    hard = 1
  }

  mount {
    source      = "x"
    destination = "/x"
    options     = ["bind", "noexce"] # ERROR: Unknown mount option
  }

  resources {
    memory     = "64Mx" # ERROR: Invalid size
    swappiness = 200    # ERROR: Invalid swappiness
  }

  namespaces = { # ERROR: The network namespace is labform's
    network = "/var/run/netns/other"
  }

  seccomp {
    default_action = "SCMP_ACT_ALOW" # ERROR: Unknown seccomp action
    architectures  = ["SCMP_ARCH_X86_46"] # ERROR: Unknown seccomp architecture
    syscall {
      names  = ["mount"]
      action = "SCMP_ACT_ERRNO"
      arg {
        index = 0
        value = 1
        op    = "SCMP_CMP_EQUAL" # ERROR: Unknown seccomp operator
      }
    }
  }
}

container "both" {
  rootfs = "rootfs"
  image  = "frrouting/frr:v8.4.1" # ERROR: Both image and rootfs
}

container "neither" { # ERROR: Missing root filesystem
  command = ["sleep", "1"]
}

container "badref" {
  image = "Not A Reference" # ERROR: Invalid image reference
}

container "files" {
  rootfs = "rootfs"
  file {
    path    = "etc/frr/frr.conf" # ERROR: Invalid file path
    content = "x"
  }
  file {
    path    = "/etc/a"
    content = "x"
    source  = "configs/a" # ERROR: Both content and source
  }
  file {
    path    = "/etc/b"
    content = "x"
    mode    = "rw-r--r--" # ERROR: Invalid file mode
    owner   = "frr" # ERROR: Invalid file owner
  }
  file {
    path      = "/etc/c"
    content   = "x"
    on_change = [] # ERROR: Empty on_change
  }
  file {
    path    = "/opt/scripts/start.sh" # ERROR: File under a mount
    content = "x"
  }
  mount {
    source      = "scripts"
    destination = "/opt/scripts"
  }
}

container "allcaps" {
  rootfs       = "rootfs"
  capabilities = ["ALL"] # ERROR: Unknown capability
  cap_add      = ["ALL"]
  cap_drop     = ["all", "CAP_BOGUS"] # ERROR: Unknown capability
}
