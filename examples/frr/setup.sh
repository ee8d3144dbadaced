#!/usr/bin/env bash
# Builds the example's image: a root filesystem from Debian's frr package
# (build-rootfs.sh), packed by mkimage into the OCI image layout ./image,
# tagged "frr", which main.lab.hcl names as oci:image:frr. Run as root on
# Debian, from anywhere; rerun to rebuild. An argument writes the layout
# elsewhere.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$PATH:/usr/local/go/bin"
rootfs=$(mktemp -d)/rootfs
trap 'rm -rf "$(dirname "$rootfs")"' EXIT
apt-get update -qq
"$here/build-rootfs.sh" "$rootfs"
out=$(realpath -m "${1:-$here/image}")
rm -rf "$out"
(cd "$here/../.." && go run ./examples/frr/mkimage -rootfs "$rootfs" -layout "$out" -tag frr -cmd /bin/bash)
