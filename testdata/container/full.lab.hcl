container "full" {
  rootfs          = "images/busybox"
  readonly_rootfs = true
  command         = ["/bin/sh", "-c", "exec sleep infinity"]
  env = {
    ROLE = "router"
    PATH = "/bin:/sbin"
  }
  cwd      = "/tmp"
  hostname = "r1"
  ports    = 2

  user {
    uid             = 1000
    gid             = 1000
    additional_gids = [10, 20]
  }

  mount {
    source      = "configs"
    destination = "/etc/frr"
    options     = ["ro", "rprivate"]
  }
  mount {
    source      = "tmpfs"
    destination = "/run"
    type        = "tmpfs"
    options     = ["nosuid", "nodev", "mode=755", "size=16m"]
  }

  capabilities = ["CAP_NET_ADMIN", "net_raw"]

  rlimit {
    type = "RLIMIT_NOFILE"
    soft = 1024
    hard = 4096
  }

  device {
    path  = "/dev/net/tun"
    type  = "c"
    major = 10
    minor = 200
  }

  resources {
    memory               = "64MiB"
    memory_reservation   = "32MiB"
    memory_swap          = "128MiB"
    swappiness           = 10
    cpu_shares           = 512
    cpu_quota            = 50000
    cpu_period           = 100000
    cpu_realtime_runtime = 950000
    cpu_realtime_period  = 1000000
    cpuset_cpus          = "0-1"
    cpuset_mems          = "0"
    pids                 = 64
    blkio_weight         = 500
    oom_kill_disable     = false
    hugepage_limits = {
      "2MB" = "64MiB"
    }
    net_cls_classid = 1048577
    net_prio = {
      eth0 = 5
    }
    blkio_throttle {
      direction = "read_bps"
      major     = 8
      minor     = 0
      rate      = 1048576
    }
    blkio_throttle {
      direction = "write_iops"
      major     = 8
      minor     = 0
      rate      = 100
    }
  }

  sysctl = {
    "net.ipv4.ip_forward" = "1"
  }

  namespaces = {
    pid = ""
    ipc = "/proc/1/ns/ipc"
  }

  uid_mappings = [{ container_id = 0, host_id = 100000, size = 65536 }]
  gid_mappings = [{ container_id = 0, host_id = 100000, size = 65536 }]

  seccomp {
    default_action = "SCMP_ACT_ALLOW"
    architectures  = ["SCMP_ARCH_X86_64"]
    syscall {
      names  = ["mount", "umount2"]
      action = "SCMP_ACT_ERRNO"
    }
    syscall {
      names  = ["personality"]
      action = "SCMP_ACT_ERRNO"
      arg {
        index = 0
        value = 8
        op    = "SCMP_CMP_NE"
      }
    }
  }

  apparmor_profile = "labform-default"
  selinux_label    = "system_u:system_r:container_t:s0"

  hook {
    when = "prestart"
    path = "/usr/local/bin/prestart"
    args = ["prestart", "--lab"]
  }
  hook {
    when = "poststop"
    path = "/usr/local/bin/poststop"
    env  = ["A=1"]
  }
}
