#!/bin/bash
# Runs inside tests/kvmhost: a persistent tap with 10.77.0.1/24 on the host
# side, kvirt-vmm --net tap=..., the guest half in tests/guest/tests/vmm-net.sh.
# Data: tests/guest/tests/netgen.sh on both ends; the host checks what it
# receives, the guest checks what it receives against the sha256 it is given.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/vmm-cases.sh" "$@"
gen=$here/../guest/tests/netgen.sh
bytes=${KVIRT_NET_BYTES:-$((256 << 20))}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip link del kvtap0 2>/dev/null
}
trap cleanup EXIT

# net_case NAME CPUS QUEUES MTU STREAMS BYTES
net_case() {
	local name=$1 cpus=$2 queues=$3 mtu=$4 streams=$5 nbytes=$6 log=$logdir/vmm-net-$1.log
	want "$name" || return 0
	local mq=
	[ "$queues" -gt 1 ] && mq=multi_queue
	ip link del kvtap0 2>/dev/null
	ip tuntap add dev kvtap0 mode tap vnet_hdr $mq || { not_ok "$name" "ip tuntap add failed"; return; }
	ip link set kvtap0 mtu "$mtu" up && ip addr add 10.77.0.1/24 dev kvtap0 ||
		{ not_ok "$name" "tap address/mtu"; return; }
	local t0 sha
	t0=$(date +%s%N)
	sha=$(busybox sh "$gen" "$nbytes" | sha256sum | cut -d' ' -f1)
	echo "# $name: $nbytes-byte stream sha256 $sha ($(( ($(date +%s%N) - t0) / 1000000 )) ms to generate)"
	rm -f /tmp/g2h.sum /tmp/ping-h2g.txt
	pids=()
	busybox nc -l -p 5001 -e busybox sh "$gen" "$nbytes" &
	pids+=($!)
	busybox nc -l -p 5002 -e sh -c 'sha256sum >/tmp/g2h.sum' &
	pids+=($!)
	local p
	for ((p = 0; p < streams; p++)); do
		busybox nc -l -p $((5100 + p)) -e sh -c "head -c $((32 << 20)) /dev/zero" &
		pids+=($!)
		busybox nc -l -p $((5200 + p)) -e sh -c 'cat >/dev/null' &
		pids+=($!)
	done
	# Host -> guest ping once the guest has its address.
	(
		for _ in $(seq 1 1200); do
			grep -q '^KVIRT-NET up' "$log" 2>/dev/null && break
			sleep 0.5
		done
		busybox ping -c 3 -W 5 10.77.0.2 >/tmp/ping-h2g.txt 2>&1
		echo "rc=$?" >>/tmp/ping-h2g.txt
	) &
	pids+=($!)
	kv_vm_run 1200 "$log" -- env KVIRT_LOG_LEVEL=info "$vmm" --kernel "$KVIRT_GUEST_KERNEL" \
		--initrd "$KVIRT_GUEST_INITRD" --cpus "$cpus" --memory 512M \
		--net "tap=kvtap0,queues=$queues,mtu=$mtu" \
		--cmdline "$base kvirt.test=vmm-net kvirt.net_bytes=$nbytes kvirt.net_sha=$sha kvirt.net_mtu=$mtu kvirt.net_queues=$(( cpus < queues ? cpus : queues )) kvirt.net_streams=$streams"
	local status detail g2h
	status=$(kv_result_field "$KV_VM_RESULT" status)
	detail=$(kv_result_field "$KV_VM_RESULT" detail)
	sleep 1
	g2h=$(cut -d' ' -f1 /tmp/g2h.sum 2>/dev/null)
	if [ "$status" != pass ]; then
		not_ok "$name" "guest result '${KV_VM_RESULT:-none}'" "$log"
	elif [ "$KV_VM_RC" != 0 ]; then
		not_ok "$name" "kvirt-vmm exit $KV_VM_RC" "$log"
	elif ! grep -q 'rc=0' /tmp/ping-h2g.txt 2>/dev/null; then
		not_ok "$name" "host->guest ping: $(tr '\n' ' ' </tmp/ping-h2g.txt 2>/dev/null)" "$log"
	elif [ "$g2h" != "$sha" ]; then
		not_ok "$name" "guest->host: host received sha256 '$g2h', want $sha" "$log"
	else
		ok "$name: cpus=$cpus queues=$queues mtu=$mtu, ping both ways, $nbytes bytes each way, g2h sha256 = h2g sha256 = $sha; $detail"
	fi
	grep -a 'net kvtap0: rx' "$log" | sed 's/^/# /'
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip link del kvtap0 2>/dev/null
}

net_case transfer 2 2 1500 4 "$bytes"
net_case mtu9000 1 1 9000 0 $((32 << 20))

echo "1..$n"
[ $failed = 0 ]
