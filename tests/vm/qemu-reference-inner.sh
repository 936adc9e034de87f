#!/bin/bash
# Runs inside tests/kvmhost: QEMU with KVM boots the test guest images and
# checks the guest's result line.  This is the baseline every kvirt VM test
# and benchmark compares against.
# Usage: qemu-reference-inner.sh MACHINE [TEST [EXPECT]]
#   MACHINE microvm|q35, TEST a guest test (default hello), EXPECT pass|fail.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/vmrun.sh"
machine=${1:-microvm} test=${2:-hello} expect=${3:-pass}
host_uptime=$(cut -d' ' -f1 /proc/uptime)
: "${KVIRT_GUEST_KERNEL:?}" "${KVIRT_GUEST_INITRD:?}"
[ -c /dev/kvm ] || { echo "no /dev/kvm inside kvmhost" >&2; exit 1; }
case "$machine" in
microvm) mopt=(-M microvm,acpi=on,pit=off,pic=off,rtc=off -device virtio-rng-device) ;;
q35) mopt=(-M q35) ;;
*) echo "unknown machine $machine" >&2; exit 2 ;;
esac
log=/tmp/qemu-$machine.log
kv_vm_run 300 "$log" -- qemu-system-x86_64 "${mopt[@]}" -enable-kvm -cpu host -smp 1 -m 256 \
	-nodefaults -no-user-config -display none -no-reboot -serial stdio \
	-kernel "$KVIRT_GUEST_KERNEL" -initrd "$KVIRT_GUEST_INITRD" \
	-append "console=ttyS0 quiet panic=-1 kvirt.test=$test"
ok=$?
echo "reference: machine=$machine test=$test nested_host_uptime_s=$host_uptime guest_init_ms=$KV_VM_INIT_MS guest_result_ms=$KV_VM_RESULT_MS qemu_exit=$KV_VM_RC"
if [ $ok != 0 ]; then
	echo "reference: no KVIRT-RESULT line from the guest; console:" >&2
	tail -n 40 "$log" >&2
	exit 1
fi
echo "$KV_VM_RESULT"
case "$KV_VM_RESULT" in *" status=$expect "*) ;; *) echo "reference: expected status=$expect" >&2; exit 1 ;; esac
[ "$KV_VM_RC" = 0 ] || { echo "reference: QEMU exit status $KV_VM_RC after the guest powered off" >&2; exit 1; }
