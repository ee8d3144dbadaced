link "c" { # ERROR: Missing required argument
  mtu = 1500
}
