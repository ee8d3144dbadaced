lab {
  name = "campus"
  backend "consul" { # ERROR: Unknown backend
  }
  backend "etcd" {
    endpoints = ["http://127.0.0.1:2379"]
    prefix    = "labform/campus"
    lock_ttl  = "soon" # ERROR: Invalid lock_ttl
    password  = "secret" # ERROR: Password in a lab file
    tls       = true # ERROR: Unsupported argument
  }
  backend "etcd" { # ERROR: Missing endpoints
    prefix = "/"
  }
  backend "etcd" {
    endpoints = ["http://127.0.0.1:2379"]
    prefix    = "labform/campus"
  }
  backend "etcd" { # ERROR: Duplicate backend
    endpoints = ["http://127.0.0.1:2379"]
    prefix    = "labform/campus"
  }
}
