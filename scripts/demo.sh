#!/usr/bin/env bash
# The demo: labform's workflow on examples/quickstart (validate, plan,
# saved plans, graph, apply, a ping and the firewall chain at work, a
# no-change plan). Run by make demo.
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

# Apply the whole lab: the QEMU router (diskless: it runs, under TCG
# here, but boots no guest), the containers, the links between them and
# host0's firewall chain.
step $bin -chdir=$lab apply -auto-approve
# The lab's check blocks, alone, as CI runs them (docs/checks.md).
step $bin -chdir=$lab test -junit-xml .labform/checks.xml
step $bin -chdir=$lab state list
step $bin -chdir=$lab output router_console
# Every node, port and link as they run: the router's four ports are taps
# in the lab namespace; a link of two ports is a wire (each port's
# ingress redirected to the other by tc, no bridge).
step $bin -chdir=$lab status
step $bin -chdir=$lab output host_netns
ns0=$(basename "$($bin -chdir=$lab output -json host_netns | tr -d '[]"' | cut -d, -f1)")
ns1=$(basename "$($bin -chdir=$lab output -json host_netns | tr -d '[]"' | cut -d, -f2)")
step ip netns exec "$ns0" ip -br addr
step ip netns exec "$ns0" iptables -S host_in

# host0 reaches host1, and the replies come back in (established).
step ip netns exec "$ns0" busybox ping -c 2 -W 2 10.20.0.2
# host1 -> host0 on tcp 22 is allowed by the chain...
ip netns exec "$ns0" busybox nc -l -p 22 </dev/null >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.3
step ip netns exec "$ns1" busybox nc -w 2 10.20.0.1 22 </dev/null
echo "allowed: host1 -> host0 tcp/22 connected"
# ...and a ping from host1 to host0 is dropped.
if ip netns exec "$ns1" busybox ping -c 1 -W 1 10.20.0.1; then
  echo "host1's ping reached host0: the firewall chain did not drop it" >&2
  exit 1
fi
echo "dropped: host1 -> host0 ping (icmp is not in host0's allowlist)"

# A second plan finds the lab as it should be.
step $bin -chdir=$lab plan -detailed-exitcode

cat <<'MSG'

The router runs in qemu-system-x86_64 (controlled over QMP, its serial
console on the telnet port shown above); its ports are taps in the lab's
namespace lf-quickstart, wired to each host's eth0 by the uplink links.
The two containers run with runc, each in its own pinned network
namespace; their eth1 ports are joined by the link "lan" (a wire shaped
to 100mbit: each lab-side port redirects to the other with tc, as
`tc -n lf-quickstart filter show dev PORT ingress` shows), and host0
pings host1 across it. host0's firewall chain
(netd's allowlist, installed with one iptables-restore) lets ssh in and
drops host1's ping.

To destroy the lab:  ./bin/labform -chdir=examples/quickstart destroy -auto-approve
MSG
