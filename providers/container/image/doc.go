// Package image resolves container image references (skopeo's transport
// syntax: a registry reference, oci:, oci-archive:, docker-archive:) to
// digests, and keeps the images labs use unpacked in a content-addressed
// store shared by every lab on the host.
//
// It owns no registry, manifest or layer code: go-containerregistry reads
// registries, layouts and archives and applies the layers (whiteouts
// included); tar(1) writes the result to disk. What it adds is the store's
// discipline: one fetch per digest (a lock across processes), an unpack
// into a temporary directory renamed into place only when complete, a
// check of local blobs against their digests, and errors that name the
// image and what failed.
//
// It does not mount anything: a container's overlay (the image below, the
// container's own layer above) is the container provider's.
//
// It imports labnet only; never a provider, config, planner or
// state.
package image
