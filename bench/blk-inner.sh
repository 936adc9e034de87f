#!/bin/bash
# Runs inside tests/kvmhost; see bench/blk.
set -uo pipefail
secs=${1:-5}
: "${KVIRT_GUEST_KERNEL:?}" "${KVIRT_GUEST_INITRD_FULL:?}"
vmm=$(command -v kvirt-vmm) || { echo "bench/blk: kvirt-vmm not on PATH" >&2; exit 1; }
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
cpus=2 mem=1024
img=/tmp/bench-blk.img
# Real blocks (not a sparse file), so reads go to the host's disk path.
dd if=/dev/zero of=$img bs=1M count=512 conv=fsync 2>/dev/null

jobs="randread:4k:1 randread:4k:32 randwrite:4k:1 randwrite:4k:32 read:1M:32"
guest_script=$(cat <<GUEST
for j in $jobs; do
	rw=\${j%%:*} rest=\${j#*:}; bs=\${rest%%:*} qd=\${rest#*:}
	echo "BENCH-BEGIN \$j"
	fio --name=b --filename=/dev/vda --direct=1 --ioengine=libaio --rw=\$rw --bs=\$bs \
		--iodepth=\$qd --size=400M --runtime=$secs --time_based --output-format=terse \
		--terse-version=3 >/tmp/o 2>/tmp/e || { echo "BENCH-FAIL \$j \$(tail -1 /tmp/e)"; continue; }
	echo "BENCH-END \$j"
	# terse v3: 6 read KiB, 8 read IOPS, 47 write KiB, 49 write IOPS
	awk -F';' -v j=\$j '{ printf "BENCH-RESULT %s rkb=%s riops=%s wkb=%s wiops=%s\n", j, \$6, \$8, \$47, \$49 }' /tmp/o
done
GUEST
)
b64=$(printf '%s\n' "$guest_script" | base64 -w0)
cmdline="console=ttyS0 quiet panic=-1 kvirt.run=$b64"

kvm_dir() { # the debugfs directory of the VM owned by pid $1
	ls -d /sys/kernel/debug/kvm/"$1"-* 2>/dev/null | head -1
}

# run_vm NAME CMD...: boot, sample exits at each marker, write NAME.res lines "job ios exits iops"
run_vm() {
	local name=$1 log=/tmp/bench-$1.log res=/tmp/bench-$1.res
	shift
	: >"$log"
	: >"$res"
	"$@" </dev/null >"$log" 2>&1 &
	local pid=$! dir= seen=0 begin_exits=0 line job t0
	t0=$(date +%s)
	while kill -0 $pid 2>/dev/null; do
		[ -n "$dir" ] || dir=$(kvm_dir $pid)
		local n
		n=$(grep -a -c '^BENCH-\(BEGIN\|END\)' "$log")
		while [ "$seen" -lt "$n" ]; do
			seen=$((seen + 1))
			line=$(grep -a '^BENCH-\(BEGIN\|END\)' "$log" | sed -n "${seen}p" | tr -d '\r')
			local ex
			ex=$(cat "$dir/exits" 2>/dev/null || echo 0)
			job=${line#* }
			case "$line" in
			BENCH-BEGIN*) begin_exits=$ex ;;
			BENCH-END*) echo "$job $((ex - begin_exits))" >>"$res.exits" ;;
			esac
		done
		grep -q '^KVIRT-RESULT' "$log" && break
		[ $(( $(date +%s) - t0 )) -lt 900 ] || break
		sleep 0.02
	done
	kill $pid 2>/dev/null
	sleep 1
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	grep -a '^BENCH-FAIL' "$log" >&2
	grep -a '^BENCH-RESULT' "$log" | tr -d '\r' | while read -r _ j rkb riops wkb wiops; do
		rkb=${rkb#*=} riops=${riops#*=} wkb=${wkb#*=} wiops=${wiops#*=}
		local bs=${j#*:}
		bs=${bs%%:*}
		local bkb=4
		[ "$bs" = 1M ] && bkb=1024
		local ios=$(( (rkb + wkb) / bkb ))
		local iops=$(( ${riops%.*} + ${wiops%.*} ))
		local ex
		ex=$(awk -v j="$j" '$1 == j { print $2 }' "$res.exits")
		echo "$j $ios ${ex:-0} $iops" >>"$res"
	done
	rm -f "$res.exits"
}

run_vm kvirt "$vmm" --kernel "$KVIRT_GUEST_KERNEL" --initrd "$KVIRT_GUEST_INITRD_FULL" \
	--cpus $cpus --memory ${mem}M --disk "path=$img,cache=none" --cmdline "$cmdline"
run_vm qemu qemu-system-x86_64 -M q35 -enable-kvm -cpu host -smp $cpus -m $mem -nodefaults \
	-no-user-config -display none -no-reboot -serial stdio \
	-kernel "$KVIRT_GUEST_KERNEL" -initrd "$KVIRT_GUEST_INITRD_FULL" -append "$cmdline" \
	-drive "file=$img,if=none,id=d0,format=raw,aio=io_uring,cache=none" \
	-device virtio-blk-pci,drive=d0,num-queues=$cpus

echo
echo "bench/blk: fio in the guest, ${secs}s per job, $cpus vCPUs, raw image on the nested host's ext4"
printf '%-16s %12s %12s %8s %14s %14s %8s\n' job kvirt-IOPS qemu-IOPS ratio kvirt-exit/req qemu-exit/req ratio
for j in $jobs; do
	read -r _ kios kex kiops < <(grep "^$j " /tmp/bench-kvirt.res || echo "- 0 0 0")
	read -r _ qios qex qiops < <(grep "^$j " /tmp/bench-qemu.res || echo "- 0 0 0")
	awk -v j="$j" -v ki="$kiops" -v qi="$qiops" -v kx="$kex" -v kn="$kios" -v qx="$qex" -v qn="$qios" 'BEGIN {
		ke = kn ? kx / kn : 0; qe = qn ? qx / qn : 0
		printf "%-16s %12d %12d %8s %14.3f %14.3f %8s\n", j, ki, qi,
			qi ? sprintf("%.2fx", ki / qi) : "-", ke, qe, qe ? sprintf("%.2fx", ke / qe) : "-" }'
done
rm -f $img
