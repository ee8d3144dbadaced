vm "a" {
  disk "hdz" { # ERROR: Invalid disk name
    image = "x.qcow2"
  }
}
