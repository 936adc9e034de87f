#!/bin/bash
# vm suite: kvirt-vmm boots the Debian cloud kernel + test initramfs inside
# tests/kvmhost (1 vCPU/128 MiB, 4 vCPUs/1 GiB, 2 vCPUs/5 GiB), and guest
# poweroff/reboot/panic map to exit 0/2/3; console input reaches the guest
# shell.  TAP from vmm-boot-inner.sh.  Optional argument: one case name.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing (scripts/deps.sh)"; exit 77; }
eval "$("$repo/tests/guest/build")" || { echo "Bail out! tests/guest/build failed"; exit 1; }
export KVIRT_GUEST_KERNEL KVIRT_GUEST_INITRD
exec "$repo/tests/kvmhost/run" --timeout 900 --mem 8192 -- "$repo/tests/vm/vmm-boot-inner.sh" "$@"
