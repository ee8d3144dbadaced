# r1 and r2 become instances of one for_each resource; the link and the
# chain that named container.r1 name container.router["r1"] and do not
# change. r2 is moved in two steps (a chain of moves). The counted
# container.old becomes container.renamed, keys kept, and its second
# instance is changed as well as moved.

moved {
  from = container.r1
  to   = container.router["r1"]
}

moved {
  from = container.r2
  to   = container.tmp
}

moved {
  from = container.tmp
  to   = container.router["r2"]
}

moved {
  from = container.old
  to   = container.renamed
}

container "router" {
  for_each = toset(["r1", "r2"])
  rootfs   = "rootfs"
  hostname = each.key
  ports    = 1
}

container "spine" {
  rootfs   = "rootfs"
  hostname = "spine"
  ports    = 2
}

container "renamed" {
  count  = 2
  rootfs = "rootfs"
  state  = count.index == 1 ? "stopped" : "running"
}

link "r1_spine" {
  endpoints = [container.router["r1"].port[0], container.spine.port[0]]
}

firewall_chain "r1_in" {
  target = container.router["r1"]
  hooks  = ["INPUT"]
}
