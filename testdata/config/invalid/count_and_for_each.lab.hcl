vm "a" {
  count    = 2
  for_each = toset(["x"]) # ERROR: Invalid combination of count and for_each
}
