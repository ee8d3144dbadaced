// Command mkimage packs a root filesystem directory into a one-layer OCI
// image layout, so that a lab can name it as `image = "oci:DIR:TAG"`. It is
// the example's stand-in for a registry these machines cannot reach: the
// layer is the tar that GNU tar writes of the directory, and the manifest,
// config and layout are go-containerregistry's.
//
// usage: go run ./examples/frr/mkimage -rootfs DIR -layout OUT -tag NAME [-cmd ARG]...
//
// It imports nothing of labform: the example stands on its own.
package main
