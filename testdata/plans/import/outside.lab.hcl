# Objects made outside labform (the test stores them in the in-memory
# providers under "outside/<address>"): a container and a firewall chain.
container "web" {
  rootfs   = "rootfs"
  hostname = "web-by-hand"
  ports    = 1
}

firewall_chain "web_in" {
  target = container.web
  hooks  = ["INPUT"]
}
