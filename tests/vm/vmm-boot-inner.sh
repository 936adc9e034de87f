#!/bin/bash
# Runs inside tests/kvmhost: kvirt-vmm boots the test guest in several
# shapes and lifecycles; each case is one TAP line.  A case passes only on
# what the guest printed (its KVIRT-RESULT line) plus kvirt-vmm's exit status.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/vmm-cases.sh" "$@"

# boot_case NAME CPUS MEM EXPECT_RC EXPECT_STATUS CMDLINE-EXTRA
boot_case() {
	local name=$1 cpus=$2 mem=$3 want_rc=$4 want_status=$5 extra=$6 log=$logdir/vmm-$1.log
	want "$name" || return 0
	kv_vm_run 240 "$log" -- env KVIRT_LOG_LEVEL=info "$vmm" --kernel "$KVIRT_GUEST_KERNEL" \
		--initrd "$KVIRT_GUEST_INITRD" --cpus "$cpus" --memory "$mem" --cmdline "$base $extra"
	local status
	status=$(kv_result_field "$KV_VM_RESULT" status)
	if [ "$status" != "$want_status" ]; then
		not_ok "$name: ${cpus} vCPU/$mem" "guest result '${KV_VM_RESULT:-none}', want status=$want_status" "$log"
	elif [ "$KV_VM_RC" != "$want_rc" ]; then
		not_ok "$name: ${cpus} vCPU/$mem" "kvirt-vmm exit $KV_VM_RC, want $want_rc" "$log"
	else
		ok "$name: ${cpus} vCPU/$mem: $(kv_result_field "$KV_VM_RESULT" detail) (exec->init ${KV_VM_INIT_MS} ms, exit $KV_VM_RC)"
	fi
}

boot_case small 1 128M 0 pass "kvirt.test=vmm-machine kvirt.expect_cpus=1"
# Default topology: one socket per vCPU (KubeVirt's and QEMU's default).
boot_case smp4 4 1G 0 pass "kvirt.test=vmm-machine kvirt.expect_cpus=4 kvirt.expect_topology=4:1:1"
# 2 sockets x 3 cores x 2 threads: sparse APIC IDs (cores need 2 bits).
boot_case topology 12,sockets=2,cores=3,threads=2 512M 0 pass \
	"kvirt.test=vmm-machine kvirt.expect_cpus=12 kvirt.expect_topology=2:3:2"
# 5 GiB crosses the 3-4 GiB hole: 2 GiB must show up above 4 GiB.
boot_case highmem 2 5G 0 pass \
	"kvirt.test=vmm-machine kvirt.expect_cpus=2 kvirt.expect_mem_kib_min=4404019 kvirt.expect_high_mem=1"
# PCI: the guest enumerates the host bridge through the DSDT's PCI0.
boot_case pci 2 256M 0 pass "kvirt.test=vmm-pci"
boot_case reboot 1 256M 2 pass "kvirt.test=hello kvirt.end=reboot"

# panic_case NAME EXTRA-CMDLINE WANT-MESSAGE: the guest panics on purpose.
panic_case() {
	local name=$1 extra=$2 msg=$3 log=$logdir/vmm-$1.log
	want "$name" || return 0
	kv_vm_run 120 "$log" -- env KVIRT_LOG_LEVEL=info "$vmm" --kernel "$KVIRT_GUEST_KERNEL" \
		--initrd "$KVIRT_GUEST_INITRD" --cpus 1 --memory 256M \
		--cmdline "$base kvirt.test=vmm-panic $extra"
	# No result line: the guest dies.  kv_vm_run waited for the VMM to exit.
	if ! grep -q 'panicking on purpose' "$log"; then
		not_ok "$name: guest panic -> exit 3" "the panic test never ran" "$log"
	elif [ "$KV_VM_RC" != 3 ]; then
		not_ok "$name: guest panic -> exit 3" "kvirt-vmm exit $KV_VM_RC, want 3" "$log"
	elif ! grep -q "$msg" "$log"; then
		not_ok "$name: guest panic -> exit 3" "no '$msg' from kvirt-vmm" "$log"
	else
		ok "$name: guest panic -> exit 3 ($(grep -o 'guest kernel panicked[^;]*' "$log" | head -1))"
	fi
}
# Through the pvpanic device (the initramfs loads pvpanic_mmio)...
panic_case panic "" "panicked (pvpanic"
# ...and without it: the console banner before the reset gives it away.
panic_case panic-console "module_blacklist=pvpanic_mmio" "guest kernel panicked"

# --on-reboot restart: the guest reboots once and must come back by itself
# in the same process (reset in place), disk contents, all vCPUs and the
# network (ping over a tap on both boots) intact.
if want reboot-restart; then
	log=$logdir/vmm-reboot-restart.log img=/tmp/vmm-reboot.img
	rm -f "$img" && truncate -s 4M "$img"
	ip link del kvrb0 2>/dev/null
	ip tuntap add dev kvrb0 mode tap vnet_hdr multi_queue && ip link set kvrb0 up &&
		ip addr add 10.77.0.1/24 dev kvrb0
	kv_vm_run 300 "$log" -- env KVIRT_LOG_LEVEL=info "$vmm" --kernel "$KVIRT_GUEST_KERNEL" \
		--initrd "$KVIRT_GUEST_INITRD" --cpus 2 --memory 256M --on-reboot restart \
		--disk "path=$img" --net tap=kvrb0 \
		--cmdline "$base kvirt.test=vmm-reboot kvirt.expect_cpus=2 kvirt.ping=10.77.0.1"
	ip link del kvrb0 2>/dev/null
	what="reboot-restart: guest reboot -> reset in place -> second boot"
	detail=$(kv_result_field "$KV_VM_RESULT" detail)
	mark=$(head -c 12 "$img" 2>/dev/null | tr -d "\\000")
	if ! grep -q 'boot 1: marking' "$log"; then
		not_ok "$what" "the first boot never ran" "$log"
	elif [ "$(kv_result_field "$KV_VM_RESULT" status)" != pass ]; then
		not_ok "$what" "guest result '${KV_VM_RESULT:-none}'" "$log"
	elif [ "$KV_VM_RC" != 0 ]; then
		not_ok "$what" "kvirt-vmm exit $KV_VM_RC, want 0 (powered off after the second boot)" "$log"
	elif ! grep -q 'machine reset in place' "$log"; then
		not_ok "$what" "no 'machine reset in place' from kvirt-vmm" "$log"
	elif [ "$mark" != KVIRT-BOOT-2 ]; then
		not_ok "$what" "the image holds '$mark', want KVIRT-BOOT-2" "$log"
	else
		ok "$what: $detail; $(grep -o 'machine reset in place in [0-9]* us' "$log" | head -1)"
	fi
	rm -f "$img"
fi

if want console; then
	log=$logdir/vmm-console.log fifo=$(mktemp -u /tmp/vmm-console.XXXXXX)
	mkfifo "$fifo"
	"$vmm" --kernel "$KVIRT_GUEST_KERNEL" --initrd "$KVIRT_GUEST_INITRD" --cpus 1 --memory 256M \
		--cmdline "$base kvirt.test=hello kvirt.end=shell" <"$fifo" >"$log" 2>&1 &
	pid=$!
	exec 9>"$fifo"
	got=
	for _ in $(seq 1 2400); do
		grep -q '^KVIRT-RESULT' "$log" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	sleep 1 # let the shell start reading its terminal
	# The answer (42) appears only if the guest shell evaluated what we typed.
	printf 'echo kvirt-console-$((6*7))\n' >&9
	for _ in $(seq 1 300); do
		grep -q 'kvirt-console-42' "$log" && { got=1; break; }
		sleep 0.1
	done
	printf 'poweroff -f\n' >&9
	rc=killed
	for _ in $(seq 1 300); do
		kill -0 $pid 2>/dev/null || { wait $pid; rc=$?; break; }
		sleep 0.1
	done
	[ "$rc" = killed ] && { kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; }
	exec 9>&-
	rm -f "$fifo"
	if [ -z "$got" ]; then
		not_ok "console: input reaches the guest shell" "no 'kvirt-console-42' answer" "$log"
	elif [ "$rc" != 0 ]; then
		not_ok "console: input reaches the guest shell" "kvirt-vmm exit $rc after poweroff -f, want 0" "$log"
	else
		ok "console: input reaches the guest shell, the answer comes back, poweroff -> exit 0"
	fi
fi

echo "1..$n"
[ $failed = 0 ]
