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
cat <<'MSG'

The plan above is what `labform apply` will do. The providers that act on
a real lab (containers with runc, links with netlink, firewall chains with
iptables-restore, QEMU and VirtualBox VMs) are issues 3 to 7; until they
land, apply reports that the provider cannot act yet and changes nothing.

To apply later:    ./bin/labform -chdir=examples/quickstart apply
To destroy later:  ./bin/labform -chdir=examples/quickstart destroy
To clean up now:   rm -rf examples/quickstart/.labform
MSG
