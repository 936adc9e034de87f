#!/bin/bash
# vm suite: kvirt-vmm's hardening inside tests/kvmhost — a jailed VM
# (namespaces, pivot_root, uid 65534, no capabilities) with seccomp runs the
# virtio-blk workload; /proc shows CapEff 0, Seccomp 2 and the jail as its
# root; a guest-triggered forbidden syscall (test builds) kills the VMM with a
# line naming it.  TAP from vmm-seccomp-inner.sh.  Optional argument: one case.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing (scripts/deps.sh)"; exit 77; }
eval "$("$repo/tests/guest/build")" || { echo "Bail out! tests/guest/build failed"; exit 1; }
export KVIRT_GUEST_KERNEL KVIRT_GUEST_INITRD
exec "$repo/tests/kvmhost/run" --timeout 900 --mem 4096 -- "$repo/tests/vm/vmm-seccomp-inner.sh" "$@"
