vm "a" {
  memory = = 5 # ERROR: Invalid expression
}
