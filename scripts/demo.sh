#!/usr/bin/env bash
# The demo: labform's workflow on examples/quickstart, as far as the real
# providers go today (validate, plan, saved plans, graph). Run by make demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./bin/labform
lab=examples/quickstart
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step $bin version
step $bin -chdir=$lab init
step $bin -chdir=$lab validate
step $bin -chdir=$lab fmt -check
set +e
step $bin -chdir=$lab plan -detailed-exitcode -out=.labform/demo.plan
code=$?
set -e
if [ "$code" != 2 ]; then
  echo "expected plan -detailed-exitcode to report changes (exit 2), got $code" >&2
  exit 1
fi
step $bin -chdir=$lab plan -var hosts=3 -target 'container.host[2]'
step $bin -chdir=$lab graph

# A busybox root filesystem for the containers (from busybox-static).
rootfs=$lab/rootfs
if [ ! -x $rootfs/bin/busybox ]; then
  mkdir -p $rootfs/bin $rootfs/tmp
  cp "$(command -v busybox)" $rootfs/bin/busybox
  for applet in $($rootfs/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
fi

# The container provider is real: apply the containers (the VM, links and
# firewall chain wait for their providers, issues 4 to 6).
step $bin -chdir=$lab apply -auto-approve -target container.host
step $bin -chdir=$lab state list
step $bin -chdir=$lab output host_netns
for ns in $($bin -chdir=$lab output -json host_netns | tr -d '[]"' | tr ',' ' '); do
  step ip netns exec "$(basename "$ns")" ip -br addr
done
# A second plan finds the containers as they should be (only the VM's
# output is still to come).
step $bin -chdir=$lab plan -target container.host

cat <<'MSG'

The two containers run with runc, each in its own pinned network
namespace with an address on eth0; the other ends of their ports wait in
the lab's namespace (lf-quickstart) for the link provider (issue 4).
The QEMU VM, the links and the firewall chain wait for their providers
(issues 4 to 6): apply reports that they cannot act yet.

To destroy the lab:  ./bin/labform -chdir=examples/quickstart destroy -auto-approve
MSG
