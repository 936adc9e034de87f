#!/bin/bash
# vm suite: kvirt-launcher's pod network inside tests/kvmhost.  A "pod"
# network namespace (eth0: one end of a veth, 10.244.0.5/24, default route,
# MTU 1400, its own resolv.conf) and a "node" namespace on the other end.
# Cases: bridge (the guest's udhcpc gets exactly the pod's address,
# gateway, DNS, MTU and MAC; guest <-> node pings; status.interfaces),
# masquerade (10.0.2.2, 2 queues, NAT to the pod IP counted on the node, a
# forwarded TCP port reaches the guest), sigterm (bridge, SIGTERM while the
# VM runs), setup-fail (a step fails halfway: exit 1, nothing started).
# After every launcher exit the pod namespace must be exactly as
# before (ip -d addr/link, routes, nft ruleset, ip_forward).  TAP from
# launcher-net-inner.sh.  Optional argument: one case name.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing (scripts/deps.sh)"; exit 77; }
eval "$("$repo/tests/guest/build")" || { echo "Bail out! tests/guest/build failed"; exit 1; }
export KVIRT_GUEST_KERNEL KVIRT_GUEST_INITRD KVIRT_GUEST_DIR
exec "$repo/tests/kvmhost/run" --timeout 1200 --mem 4096 -- "$repo/tests/vm/launcher-net-inner.sh" "$@"
