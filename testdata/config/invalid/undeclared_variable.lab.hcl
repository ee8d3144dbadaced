variable "leaves" {
  default = 2
}
vm "leaf" {
  count = var.leafs # ERROR: Reference to undeclared input variable
}
