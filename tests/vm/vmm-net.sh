#!/bin/bash
# vm suite: kvirt-vmm's virtio-net on a tap inside tests/kvmhost — ping both
# ways, a TCP transfer each way with matching sha256 (256 MiB by default,
# KVIRT_NET_BYTES overrides), MTU 9000, and multiqueue (N queue pairs seen
# by the guest, traffic on more than one).  TAP from vmm-net-inner.sh.
# Optional argument: one case name (transfer, mtu9000).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing (scripts/deps.sh)"; exit 77; }
eval "$("$repo/tests/guest/build")" || { echo "Bail out! tests/guest/build failed"; exit 1; }
export KVIRT_GUEST_KERNEL KVIRT_GUEST_INITRD KVIRT_NET_BYTES
exec "$repo/tests/kvmhost/run" --timeout 1500 --mem 4096 -- "$repo/tests/vm/vmm-net-inner.sh" "$@"
