vm "a" {
  provider = vmware # ERROR: Invalid provider
}
