vm "a" {
  count = -1 # ERROR: Invalid count argument
}
