# A lab has at most 50,000 instances (config.MaxLabInstances): counts
# known at once are added up before anything is evaluated.
variable "n" {
  default = 10000
}
firewall_chain "c0" {
  count  = var.n
  target = lab
}
firewall_chain "c1" {
  count  = var.n
  target = lab
}
firewall_chain "c2" {
  count  = var.n
  target = lab
}
firewall_chain "c3" {
  count  = var.n
  target = lab
}
firewall_chain "c4" {
  count  = var.n
  target = lab
}
firewall_chain "c5" {
  count  = var.n # ERROR: Too many instances
  target = lab
}
