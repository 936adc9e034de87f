#!/bin/bash
# vm suite: kvirt-launcher inside tests/kvmhost — a VMI with a qcow2
# containerDisk, an emptyDisk and cloud-init NoCloud; a root filesystem
# booted through the default kernel's switch-root initramfs (whole disk and
# partition); the control socket (status, pause/resume against a guest
# counter, console attach, power button -> exit 0); SIGTERM with a guest
# that ignores the button -> killed at the grace end; a guest reboot -> exit
# 2, a guest panic -> exit 3.  kvirt-vmm runs jailed (issue 10): the
# control case checks /proc/<vmm>/status (uid 107, no capabilities,
# NoNewPrivs, seccomp) and that its root is <run dir>/jail; --no-jail runs
# unjailed; no mount is left behind.  TAP from launcher-inner.sh.
# Optional argument: case names, comma-separated.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing (scripts/deps.sh)"; exit 77; }
eval "$("$repo/tests/guest/build")" || { echo "Bail out! tests/guest/build failed"; exit 1; }
export KVIRT_GUEST_KERNEL KVIRT_GUEST_INITRD KVIRT_GUEST_DIR
exec "$repo/tests/kvmhost/run" --timeout 1200 --mem 4096 -- "$repo/tests/vm/launcher-inner.sh" "$@"
