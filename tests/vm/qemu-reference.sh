#!/bin/bash
# vm suite: the reference run.  Inside tests/kvmhost, QEMU+KVM boots the test
# guest (Debian cloud kernel + test initramfs) as microvm and as q35, and the
# guest must report its result; a guest test that fails on purpose must be
# reported as failed (so this test can fail).  Prints the times: nested-host
# boot and guest boot, for later issues to compare against.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 missing (scripts/deps.sh)"; exit 77; }
eval "$("$repo/tests/guest/build")" || exit 1
export KVIRT_GUEST_KERNEL KVIRT_GUEST_INITRD
bt=$(mktemp)
trap 'rm -f "$bt"' EXIT
KVMHOST_BOOT_TIME_FILE=$bt "$repo/tests/kvmhost/run" --timeout 900 -- bash -c '
	set -e
	t=${0}/tests/vm/qemu-reference-inner.sh
	$t microvm hello pass
	$t microvm fail fail
	$t q35 hello pass
' "$repo"
rc=$?
read -r host_ms host_uptime <"$bt" 2>/dev/null || true
echo "reference: nested host ready after ${host_ms:-?} ms (its kernel uptime ${host_uptime:-?} s)"
exit $rc
