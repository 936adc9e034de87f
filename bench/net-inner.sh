#!/bin/bash
# Inside tests/kvmhost: the measurements behind bench/net.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lib/vmrun.sh"
mib=${1:-128} runs=${2:-1}
mib=$(( (mib + 15) / 16 * 16 )) # whole 16 MiB files on both sides
bytes=$((mib << 20))
dd if=/dev/zero of=/tmp/bnz16 bs=1M count=16 2>/dev/null
zs=$(for _ in $(seq 1 $((mib / 16))); do printf '/tmp/bnz16 '; done)
cp "$KVIRT_GUEST_KERNEL" /tmp/vmlinuz && cp "$KVIRT_GUEST_INITRD" /tmp/initrd
cmdline="console=ttyS0 quiet panic=-1 kvirt.test=bench-net kvirt.net_bytes=$bytes"
vmm=$(command -v kvirt-vmm)
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
# KVM debugfs counters (all VMs; one VM runs at a time): total exits first.
stats="exits halt_exits io_exits mmio_exits irq_exits irq_injections"
snap="cd /sys/kernel/debug/kvm && cat $stats"

kvirt_cmd=("$vmm" --kernel /tmp/vmlinuz --initrd /tmp/initrd --cpus 1 --memory 512M
	--net tap=kvtap0,queues=1 --cmdline "$cmdline")
qemu_cmd=(qemu-system-x86_64 -M q35 -enable-kvm -cpu host -smp 1 -m 512 -nodefaults
	-no-user-config -display none -no-reboot -serial stdio
	-netdev tap,id=n0,ifname=kvtap0,script=no,downscript=no,vhost=off
	-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,disable-legacy=on
	-kernel /tmp/vmlinuz -initrd /tmp/initrd -append "$cmdline")

declare -A res
one_run() {
	local name=$1 i=$2 log=/tmp/bench-net-$1-$2.log
	shift 2
	ip link del kvtap0 2>/dev/null
	ip tuntap add dev kvtap0 mode tap vnet_hdr && ip link set kvtap0 up &&
		ip addr add 10.77.0.1/24 dev kvtap0 || { echo "bench: tap setup failed" >&2; return; }
	rm -f /tmp/bn-*
	# Receiver-side timing and exit counts around each transfer.
	busybox nc -l -p 5301 -e sh -c "($snap) >/tmp/bn-g2h-e0; cut -d\" \" -f1 /proc/uptime >/tmp/bn-g2h-t0; cat >/dev/null; cut -d\" \" -f1 /proc/uptime >/tmp/bn-g2h-t1; ($snap) >/tmp/bn-g2h-e1" &
	local p1=$!
	busybox nc -l -p 5302 -e sh -c "($snap) >/tmp/bn-h2g-e0; cat $zs; sleep 0.5; ($snap) >/tmp/bn-h2g-e1" &
	local p2=$!
	kv_vm_run 1500 "$log" -- "$@"
	kill $p1 $p2 2>/dev/null
	wait $p1 $p2 2>/dev/null
	local detail g2h_ms
	detail=$(kv_result_field "$KV_VM_RESULT" detail)
	if [ "$(kv_result_field "$KV_VM_RESULT" status)" != pass ]; then
		echo "bench: $name run $i failed: ${KV_VM_RESULT:-no result}" >&2
		tail -20 "$log" >&2
		return
	fi
	g2h_ms=$(awk -v a="$(cat /tmp/bn-g2h-t0 2>/dev/null)" -v b="$(cat /tmp/bn-g2h-t1 2>/dev/null)" 'BEGIN { printf "%d", (b - a) * 1000 }')
	local g2h h2g rtt ex_g ex_h
	g2h=$(awk -v b=$bytes -v ms=$g2h_ms 'BEGIN { printf "%.1f", b / 1048576 / (ms / 1000) }')
	h2g=$(sed -n 's/.*h2g_MiBps=\([0-9.]*\).*/\1/p' <<<"$detail")
	rtt=$(sed -n 's/.*rtt_avg_ms=\([0-9.]*\).*/\1/p' <<<"$detail")
	# per MiB: "exits halt io mmio irq injections"
	perm() { paste "$1" "$2" 2>/dev/null | awk -v m=$mib '{ printf "%d ", ($2 - $1) / m }'; }
	local bd_g bd_h
	bd_g=$(perm /tmp/bn-g2h-e0 /tmp/bn-g2h-e1) bd_h=$(perm /tmp/bn-h2g-e0 /tmp/bn-h2g-e1)
	ex_g=${bd_g%% *} ex_h=${bd_h%% *}
	echo "bench: $name run $i: g2h $g2h MiB/s ($g2h_ms ms), h2g $h2g MiB/s, rtt $rtt ms, per MiB ($stats) g2h: $bd_g h2g: $bd_h; $(grep -a 'net kvtap0: rx' "$log")" >&2
	res[$name-g2h]+="$g2h " res[$name-h2g]+="$h2g " res[$name-rtt]+="$rtt "
	res[$name-exg]+="$ex_g " res[$name-exh]+="$ex_h "
	ip link del kvtap0 2>/dev/null
}
# Odd runs start with kvirt-vmm, even runs with QEMU, so whatever the first
# VM of a pair leaves behind in the nested host (page cache, socket
# buffers, timers) does not always favour the same VMM.
for i in $(seq 1 "$runs"); do
	if [ $((i % 2)) = 1 ]; then
		one_run kvirt "$i" env KVIRT_LOG_LEVEL=info "${kvirt_cmd[@]}"
		one_run qemu "$i" "${qemu_cmd[@]}"
	else
		one_run qemu "$i" "${qemu_cmd[@]}"
		one_run kvirt "$i" env KVIRT_LOG_LEVEL=info "${kvirt_cmd[@]}"
	fi
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "-") printf "%.2f", a / b; else print "-" }'; }
row() {
	local k q
	k=$(median <<<"${res[kvirt-$2]:-}") q=$(median <<<"${res[qemu-$2]:-}")
	printf '%-36s %12s %12s %8s\n' "$1" "$k" "$q" "$(ratio "$k" "$q")"
}
echo
echo "bench/net: 1 vCPU, 512 MiB, 1 queue pair, tap (QEMU: virtio-net-pci, vhost=off), $mib MiB each way, median of $runs run(s), inside kvmhost (${KVMHOST:-?}), $(date -u +%Y-%m-%d)"
printf '%-36s %12s %12s %8s\n' "metric" "kvirt-vmm" "qemu" "ratio"
row "TCP guest->host (MiB/s)" g2h
row "TCP host->guest (MiB/s)" h2g
row "ping guest->host avg RTT (ms)" rtt
row "VM exits per MiB, guest->host" exg
row "VM exits per MiB, host->guest" exh
