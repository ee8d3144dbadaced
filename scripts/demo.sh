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

# The container and link providers are real: apply the LAN, which brings
# the containers it joins (the VM, its uplinks and the firewall chain wait
# for their providers, issues 5 and 6).
step $bin -chdir=$lab apply -auto-approve -target link.lan
step $bin -chdir=$lab state list
step $bin -chdir=$lab output host_netns
host0=$($bin -chdir=$lab output -json host_netns | tr -d '[]"' | cut -d, -f1)
step ip netns exec "$(basename "$host0")" ip -br addr
step ip netns exec "$(basename "$host0")" busybox ping -c 3 -W 2 10.20.0.2

# A second plan finds the containers and the LAN as they should be (only
# the VM's output is still to come).
step $bin -chdir=$lab plan -target link.lan

cat <<'MSG'

The two containers run with runc, each in its own pinned network
namespace; their eth1 ports are joined by the link "lan" (a bridge in the
lab's namespace lf-quickstart, shaped to 100mbit), and host0 pings host1
across it. The QEMU VM, its uplinks and the firewall chain wait for their
providers (issues 5 and 6): apply reports that they cannot act yet.

To destroy the lab:  ./bin/labform -chdir=examples/quickstart destroy -auto-approve
MSG
