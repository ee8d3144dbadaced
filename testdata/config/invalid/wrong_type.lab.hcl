vm "a" {
  memory = "lots" # ERROR: Incorrect attribute value type
}
