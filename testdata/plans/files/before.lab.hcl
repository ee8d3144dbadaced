variable "secret" {
  type      = string
  sensitive = true
  default   = "key=a\nuser=b\n"
}

vm "r1" {
  adapters = 2
  file {
    path    = "/etc/frr/frr.conf"
    mode    = "0640"
    owner   = "frr:frr"
    content = <<-EOT
    hostname r1
    !
    interface eth0
     ip address 10.0.0.1/24
    !
    interface eth1
     ip address 10.0.1.1/24
    !
    router bgp 65001
     bgp router-id 10.0.0.1
     neighbor 10.0.0.2 remote-as 65002
     neighbor 10.0.1.2 remote-as 65003
    !
    address-family ipv4 unicast
     network 10.0.0.0/24
     network 10.0.1.0/24
    exit-address-family
    !
    line vty
    !
    EOT
  }
  file {
    path    = "/etc/frr/daemons"
    content = "zebra=yes\nbgpd=yes\n"
  }
}

vm "r2" {
  file {
    path    = "/etc/secret.conf"
    content = var.secret
  }
}
