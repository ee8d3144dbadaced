container "web" {
  count  = 2
  rootfs = "rootfs"
}

import {
  to = container.nope # ERROR: Import to an undeclared resource
  id = "x"
}

import {
  to = container.web # ERROR: Import needs an instance key
  id = "x"
}

import {
  to = container.web[0]
  id = "x"
}

import {
  to = container.web[0] # ERROR: Duplicate import
  id = "y"
}

import {
  to = container.web[1]
  id = "" # ERROR: Invalid import id
}
