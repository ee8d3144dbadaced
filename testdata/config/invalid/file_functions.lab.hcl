locals {
  missing = file("no-such-file.txt") # ERROR: Invalid function argument
  outside = file("../../../go.mod") # ERROR: Invalid function argument
  lab     = file("file_functions.lab.hcl")
  vars    = templatefile("file_functions.lab.hcl", 1) # ERROR: Invalid function argument
}
