vm "a" {
  lifecycle {
    ignore_changes = [memroy] # ERROR: Invalid ignore_changes entry
  }
}
