vm "a" {
  memroy = 512 # ERROR: Unsupported argument
}
