vm "a" {
}
vm "a" { # ERROR: Duplicate vm
}
