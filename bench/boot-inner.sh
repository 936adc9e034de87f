#!/bin/bash
# Inside tests/kvmhost: the measurements behind bench/boot.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lib/vmrun.sh"
. "$here/lib.sh" # median, overhead_kib
runs=${1:-5}
mem_mib=256
# Both VMMs read kernel and initrd from the scratch disk, not through 9p.
cp "$KVIRT_GUEST_KERNEL" /tmp/vmlinuz && cp "$KVIRT_GUEST_INITRD" /tmp/initrd
cmdline="console=ttyS0 quiet panic=-1 kvirt.test=hello"
vmm=$(command -v kvirt-vmm)

kvirt_cmd=("$vmm" --kernel /tmp/vmlinuz --initrd /tmp/initrd --cpus 1 --memory ${mem_mib}M
	--cmdline "$cmdline")
qemu_cmd=(qemu-system-x86_64 -M microvm,acpi=on,pit=off,pic=off,rtc=off -enable-kvm -cpu host
	-smp 1 -m $mem_mib -nodefaults -no-user-config -display none -no-reboot -serial stdio
	-kernel /tmp/vmlinuz -initrd /tmp/initrd -append "$cmdline")

# Memory: one run each that stays up after the result line (kvirt.end=none).
mem_sample() {
	local log=/tmp/bench-mem-$1.log pid
	shift
	"$@" </dev/null >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 3000); do grep -q '^KVIRT-RESULT' "$log" && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	sleep 1
	overhead_kib $pid $mem_mib
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
}
kvirt_mem=$(mem_sample kvirt "${kvirt_cmd[@]/%$cmdline/$cmdline kvirt.end=none}")
echo "bench: kvirt-vmm RSS beyond guest memory / guest RSS (KiB): $kvirt_mem" >&2
qemu_mem=$(mem_sample qemu "${qemu_cmd[@]/%$cmdline/$cmdline kvirt.end=none}")
echo "bench: qemu RSS beyond guest memory / guest RSS (KiB): $qemu_mem" >&2


declare -A init_ms result_ms
first_run_us=()
for vmm_name in kvirt qemu; do
	for i in $(seq 1 "$runs"); do
		log=/tmp/bench-$vmm_name-$i.log
		if [ $vmm_name = kvirt ]; then
			kv_vm_run 300 "$log" -- env KVIRT_LOG_LEVEL=info "${kvirt_cmd[@]}"
			us=$(sed -n 's/.*first KVM_RUN \([0-9]*\) us after start.*/\1/p' "$log")
			[ -n "$us" ] && first_run_us+=("$us")
		else
			kv_vm_run 300 "$log" -- "${qemu_cmd[@]}"
		fi
		[ -n "$KV_VM_RESULT" ] || { echo "bench: $vmm_name run $i produced no result line" >&2; tail -20 "$log" >&2; }
		echo "bench: $vmm_name run $i: exec->init ${KV_VM_INIT_MS:-?} ms, exit ${KV_VM_RC:-?}" >&2
		init_ms[$vmm_name]+="${KV_VM_INIT_MS} "
		result_ms[$vmm_name]+="${KV_VM_RESULT_MS} "
	done
done

ki=$(tr ' ' '\n' <<<"${init_ms[kvirt]}" | grep . | median)
qi=$(tr ' ' '\n' <<<"${init_ms[qemu]}" | grep . | median)
kr=$(tr ' ' '\n' <<<"${result_ms[kvirt]}" | grep . | median)
qr=$(tr ' ' '\n' <<<"${result_ms[qemu]}" | grep . | median)
kf=$(printf '%s\n' "${first_run_us[@]}" | median)
ratio=$(awk -v a="$ki" -v b="$qi" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
read -r ko kg <<<"$kvirt_mem"
read -r qo qg <<<"$qemu_mem"

echo
echo "bench/boot: 1 vCPU, ${mem_mib} MiB, Debian cloud kernel + test initramfs, median of $runs runs, inside kvmhost (${KVMHOST:-?})"
printf '%-34s %14s %14s %8s\n' "metric" "kvirt-vmm" "qemu microvm" "ratio"
printf '%-34s %14s %14s %8s\n' "exec -> guest init (ms)" "$ki" "$qi" "$ratio"
printf '%-34s %14s %14s %8s\n' "exec -> result line (ms)" "$kr" "$qr" \
	"$(awk -v a="$kr" -v b="$qr" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
printf '%-34s %14s %14s\n' "exec(main) -> first KVM_RUN (us)" "$kf" "-"
printf '%-34s %14s %14s\n' "RSS beyond guest memory (KiB)" "${ko:-?}" "${qo:-?}"
printf '%-34s %14s %14s\n' "guest memory RSS (KiB)" "${kg:-?}" "${qg:-?}"
echo "runs (exec->init ms): kvirt: ${init_ms[kvirt]}| qemu: ${init_ms[qemu]}"
