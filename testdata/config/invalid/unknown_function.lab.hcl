vm "a" {
  memory = doubled(256) # ERROR: Call to unknown function
}
