#!/bin/bash
# vm suite: kvirt-vmm's virtio-blk inside tests/kvmhost — data integrity
# (guest checksum == host checksum of the image), read-only disks, one queue
# per vCPU, MSI-X; once per backend (io_uring, threads) and cache mode.
# TAP from vmm-blk-inner.sh.  Optional argument: one case name.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing (scripts/deps.sh)"; exit 77; }
eval "$("$repo/tests/guest/build")" || { echo "Bail out! tests/guest/build failed"; exit 1; }
export KVIRT_GUEST_KERNEL KVIRT_GUEST_INITRD
exec "$repo/tests/kvmhost/run" --timeout 900 --mem 4096 -- "$repo/tests/vm/vmm-blk-inner.sh" "$@"
