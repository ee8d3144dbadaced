virtual_machine "x" { # ERROR: Unsupported block type
}
