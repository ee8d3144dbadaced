variable "leaves" {
  type    = number
  default = 100
  validation {
    condition     = var.leaves >= 1 && var.leaves <= 64 # ERROR: Invalid value for variable
    error_message = "leaves must be between 1 and 64"
  }
}
