# container.web and firewall_chain.web_in were made outside labform; the
# import blocks adopt them, and the plan shows only how they differ from
# this configuration (the hostname).

import {
  to = container.web
  id = "outside/container.web"
}

import {
  to = firewall_chain.web_in
  id = "outside/firewall_chain.web_in"
}

container "db" {
  rootfs = "rootfs"
}

container "web" {
  rootfs   = "rootfs"
  hostname = "web"
  ports    = 1
}

firewall_chain "web_in" {
  target = container.web
  hooks  = ["INPUT"]
}
