container "c" { # ERROR: Missing required argument
  ports = 1
}
