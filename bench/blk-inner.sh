#!/bin/bash
# Runs inside tests/kvmhost; see bench/blk.  Progress goes to stderr as it
# happens; the table to stdout at the end.  Every wait has a deadline, and a
# VM that misses one is reported with the reason and its last console lines.
set -uo pipefail
secs=${1:-5}
: "${KVIRT_GUEST_KERNEL:?}" "${KVIRT_GUEST_INITRD_FULL:?}"
vmm=$(command -v kvirt-vmm) || { echo "bench/blk: kvirt-vmm not on PATH" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "bench/blk: qemu-system-x86_64 missing" >&2; exit 1; }
t_start=$(date +%s)
say() { echo "bench/blk [$(( $(date +%s) - t_start ))s]: $*" >&2; }

mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug ||
	{ say "FAIL: cannot mount debugfs (no VM exit counts)"; exit 1; }
[ -d /sys/kernel/debug/kvm ] || { say "FAIL: /sys/kernel/debug/kvm missing (kvm not loaded?)"; exit 1; }
cpus=2 mem=1024
# /tmp is the nested host's ext4 scratch disk (O_DIRECT works there).
img=/tmp/bench-blk.img
size_mib=${KVIRT_BENCH_BLK_MIB:-256}
# Real blocks (not a sparse file), so reads go down the host's disk path.
dd if=/dev/zero of=$img bs=1M count="$size_mib" conv=fsync 2>/dev/null ||
	{ say "FAIL: cannot write $img"; exit 1; }
fio_size=$((size_mib * 3 / 4))M

jobs=${KVIRT_BENCH_BLK_JOBS:-"randread:4k:1 randread:4k:32 randwrite:4k:1 randwrite:4k:32 read:1M:32 write:1M:32"}
njobs=$(echo $jobs | wc -w)
# The guest prints a line per job; the host samples the VM's exit counter
# when it sees BENCH-BEGIN and BENCH-END.  The 1 s pauses let the sample
# land before fio starts and after it ends, so it covers the whole job.
# Kept short: it travels base64-encoded on the kernel command line (2 KiB).
# terse v3 fields: 6 read KiB, 8 read IOPS, 47 write KiB, 49 write IOPS.
# BENCH-DIAG: platform facts that change the guest's cost per I/O.
guest_script=$(cat <<GUEST
echo "BENCH-GUEST queues=\$(ls /sys/block/vda/mq|wc -l)"
for j in idle:0:0 $jobs; do
rw=\${j%%:*} r=\${j#*:}; bs=\${r%%:*} qd=\${r#*:}
echo "BENCH-BEGIN \$j"
sleep 1
[ \$rw = idle ] && sleep $secs || fio --name=b --filename=/dev/vda --direct=1 --ioengine=libaio --rw=\$rw --bs=\$bs --iodepth=\$qd --size=$fio_size --runtime=$secs --time_based --output-format=terse --terse-version=3 >/tmp/o 2>/tmp/e || { echo "BENCH-FAIL \$j \$(tail -1 /tmp/e)"; continue; }
sleep 1
echo "BENCH-END \$j"
[ \$rw = idle ] || awk -F';' -v j=\$j '{print "BENCH-RESULT",j,"rkb="\$6,"riops="\$8,"wkb="\$47,"wiops="\$49}' /tmp/o
done
grep virtio /proc/interrupts|sed 's/^/BENCH-IRQ /'
{ grep -ow 'x2apic\|tsc_deadline_timer\|constant_tsc\|nonstop_tsc\|monitor' /proc/cpuinfo|sort -u|tr '\n' ' '; echo
cat /sys/devices/system/clocksource/clocksource0/current_clocksource /sys/devices/system/cpu/cpuidle/current_driver /sys/block/vda/queue/scheduler
dmesg|grep -i 'x2apic\|kvm-guest\|tsc:\|clocksource:\|apic:'|tail -12
grep -v virtio /proc/interrupts|awk '\$2+\$3>0'; }|sed 's/^/BENCH-DIAG /'
sleep 2
GUEST
)
b64=$(printf '%s\n' "$guest_script" | base64 -w0)
cmdline="console=ttyS0 quiet panic=-1 kvirt.run=$b64"
[ ${#cmdline} -lt 2000 ] || { say "FAIL: guest command line is ${#cmdline} bytes (kernel limit 2047); fewer jobs?"; exit 1; }

# Boot (initramfs with fio: ~40 s in the nested host) plus per job fio's
# runtime, its start-up and the pauses; generous, since TCG is slow and
# shared, but bounded so a stuck VM is reported instead of hanging.
boot_deadline=${KVIRT_BENCH_BOOT_S:-300}
job_deadline=$((secs + ${KVIRT_BENCH_JOB_SLACK_S:-60}))
failed=0

. "$(dirname "$0")/../tests/lib/vmrun.sh" # kv_complete_lines
: >/tmp/bench-breakdown
: >/tmp/bench-trace

# Every counter of the VM's debugfs directory (VM stats and vCPU stats
# summed over vCPUs), "name value" per line.
stats_snapshot() {
	local f
	for f in "$1"/*; do
		[ -f "$f" ] || continue
		read -r v <"$f" 2>/dev/null || continue
		case "$v" in '' | *[!0-9]*) continue ;; esac
		echo "${f##*/} $v"
	done
}
# CPU time (ticks) of the nested host (busy = all but idle/iowait) and of
# the VMM process (user, system; all its threads, io_uring workers too):
# with one CPU in the nested host, CPU per I/O is what bounds IOPS.
cpu_snapshot() {
	awk '/^cpu / { print "~host_busy", $2 + $3 + $4 + $7 + $8; print "~host_idle", $5 + $6 }' /proc/stat
	# Per thread name: user time less guest time (the VMM's own code), system time, guest time.
	local t
	for t in /proc/"$1"/task/*; do
		read -r c <"$t/comm" 2>/dev/null || continue
		read -r st <"$t/stat" 2>/dev/null || continue
		echo "${c// /_} ${st##*) }"
	done | awk '{ c = $1; gsub(/[0-9]+$/, "", c); u[c] += $13 - $42; s[c] += $14; g[c] += $42 }
		END { for (c in u) { print "~" c "_user", u[c]; print "~" c "_sys", s[c]; print "~" c "_guest", g[c] } }'
}
# The counters that moved during the job, biggest first (exit reasons).
stats_delta() {
	awk 'NR == FNR { b[$1] = $2; next } ($1 in b) && $2 - b[$1] > 0 { print $2 - b[$1], $1 }' \
		/tmp/bench-stats.begin /tmp/bench-stats.end | sort -rn | grep -v 'ns$' | head -20 |
		awk '{ printf "%s%s=%s", sep, $2, $1; sep = " " }'
}

# KVIRT_BENCH_TRACE=1: also record KVM's tracepoints over each job and list
# the exit reasons, MSRs, MMIO/port addresses and hypercalls behind the
# exits (diagnosis only: tracing costs CPU, so IOPS drop while it is on).
tr_dir=/sys/kernel/debug/tracing
tr_events="kvm_exit kvm_msr kvm_mmio kvm_pio kvm_hypercall kvm_inj_virq kvm_apic_ipi"
trace_on() {
	[ "${KVIRT_BENCH_TRACE:-0}" = 1 ] || return 0
	local e
	echo 0 >$tr_dir/tracing_on && echo 16384 >$tr_dir/buffer_size_kb && : >$tr_dir/trace
	for e in $tr_events; do echo 1 >$tr_dir/events/kvm/$e/enable 2>/dev/null; done
	echo 1 >$tr_dir/tracing_on
}
trace_off() { # NAME JOB: summary appended to /tmp/bench-trace
	[ "${KVIRT_BENCH_TRACE:-0}" = 1 ] || return 0
	echo 0 >$tr_dir/tracing_on
	{
		echo "$1 $2:"
		awk '/ kvm_exit: / { for (i = 1; i <= NF; i++) if ($i == "reason") { print "exit", $(i + 1); break } }
			/ kvm_msr: / { sub(/.*kvm_msr: /, ""); print "msr", $1, $2 }
			/ kvm_mmio: / { sub(/.*kvm_mmio: /, ""); print "mmio", $1, $2, $6 }
			/ kvm_pio: / { sub(/.*kvm_pio: /, ""); print "pio", $1, $3 }
			/ kvm_hypercall: / { sub(/.*kvm_hypercall: /, ""); print "hypercall", $1 }
			/ kvm_inj_virq: / { sub(/.*kvm_inj_virq: /, ""); print "inject", $1, $2 }
			/ kvm_apic_ipi: / { print "ipi" }' $tr_dir/trace | sort | uniq -c | sort -rn | head -25 | sed 's/^/    /'
	} >>/tmp/bench-trace
	: >$tr_dir/trace
}

kvm_dir() { # the debugfs directory of the VM owned by pid $1
	ls -d /sys/kernel/debug/kvm/"$1"-* 2>/dev/null | head -1
}

# run_vm NAME CMD...: boot, sample exits at each marker, write NAME.res
# lines "job ios exits iops".
run_vm() {
	local name=$1 log=/tmp/bench-$1.log res=/tmp/bench-$1.res
	shift
	: >"$log"
	: >"$res"
	: >"$res.exits"
	say "$name: booting ($cpus vCPUs, ${mem} MiB, ${size_mib} MiB raw image, jobs: $jobs)"
	"$@" </dev/null >"$log" 2>&1 &
	local pid=$! dir= seen=0 begin_exits= line ex job now
	local phase=boot deadline=$(( $(date +%s) + boot_deadline )) why=
	# The loop forks nothing while it waits (mapfile, read, printf are
	# builtins): the nested host has one CPU, shared with the VM measured.
	local -a all
	while :; do
		printf -v now '%(%s)T' -1
		if ! kill -0 $pid 2>/dev/null; then
			grep -aq '^KVIRT-RESULT' "$log" || why="VMM exited during $phase"
			break
		fi
		[ -n "$dir" ] || dir=$(kvm_dir $pid)
		mapfile all <"$log"
		# Lines keep their newline: one without is still being written.
		local n=${#all[@]}
		[ "$n" -gt 0 ] && [ "${all[n - 1]: -1}" != $'\n' ] && n=$((n - 1))
		while [ "$seen" -lt "$n" ]; do
			line=${all[$seen]%$'\n'}
			line=${line%$'\r'}
			seen=$((seen + 1))
			case "$line" in BENCH-* | KVIRT-*) ;; *) continue ;; esac
			ex=
			[ -n "$dir" ] && read -r ex 2>/dev/null <"$dir/exits"
			job=${line#* }
			case "$line" in
			BENCH-BEGIN*)
				begin_exits=$ex
				stats_snapshot "$dir" >/tmp/bench-stats.begin
				cpu_snapshot $pid >>/tmp/bench-stats.begin
				trace_on
				phase="job $job"
				deadline=$((now + job_deadline))
				;;
			BENCH-END*)
				if [ -n "$ex" ] && [ -n "$begin_exits" ]; then
					echo "$job $((ex - begin_exits))" >>"$res.exits"
					[ "$job" = idle:0:0 ] && echo "$((ex - begin_exits))" >>/tmp/bench-$name.idle
					stats_snapshot "$dir" >/tmp/bench-stats.end
					cpu_snapshot $pid >>/tmp/bench-stats.end
					echo "$name r${round:-1} $job: $(stats_delta)" >>/tmp/bench-breakdown
					trace_off "$name r${round:-1}" "$job"
				fi
				phase="after $job"
				deadline=$((now + job_deadline))
				;;
			BENCH-GUEST*)
				phase="first job"
				deadline=$((now + job_deadline))
				;;
			KVIRT-RESULT*) phase=done ;;
			esac
			say "$name: ${line}${ex:+ (exits $ex)}"
		done
		[ "$phase" = done ] && break
		if [ "$now" -ge "$deadline" ]; then
			why="no progress for $((boot_deadline > job_deadline ? boot_deadline : job_deadline)) s during $phase"
			break
		fi
		sleep 0.1
	done
	[ -n "$dir" ] || why="${why:+$why; }no KVM debugfs directory for pid $pid"
	kill $pid 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	if grep -aq '^BENCH-FAIL' "$log"; then
		why="${why:+$why; }$(grep -a '^BENCH-FAIL' "$log" | tr -d '\r' | tr '\n' ';')"
	fi
	if [ -n "$why" ]; then
		failed=1
		say "FAIL: $name: $why; last console lines:"
		tail -n 15 "$log" | tr -d '\r' | sed 's/^/    /' >&2
	fi
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
		echo "$j $ios ${ex:--1} $iops" >>"$res"
	done
	rm -f "$res.exits"
	say "$name: done"
}

# Rounds alternate kvirt and QEMU so drift in the shared machine's load
# hits both; the table sums over rounds (IOPS = mean, exits/io = sum/sum).
rounds=${KVIRT_BENCH_BLK_ROUNDS:-2}
: >/tmp/bench-kvirt.all
: >/tmp/bench-qemu.all
: >/tmp/bench-kvirt.idle
: >/tmp/bench-qemu.idle
run_kvirt() {
	run_vm kvirt env KVIRT_LOG_LEVEL=info "$vmm" --kernel "$KVIRT_GUEST_KERNEL" \
		--initrd "$KVIRT_GUEST_INITRD_FULL" --cpus $cpus --memory ${mem}M --hugepages thp \
		--disk "path=$img,${KVIRT_BENCH_BLK_DISK:-cache=none,backend=io_uring}" --cmdline "$cmdline"
	grep -a 'interrupts:\|backend' /tmp/bench-kvirt.log | head -3 | sed 's/^/    /' >&2
	sed "s/^/$round /" /tmp/bench-kvirt.res >>/tmp/bench-kvirt.all
}
run_qemu() {
	# QEMU madvises its RAM for THP and 2 MiB-aligns it; kvirt-vmm gets --hugepages thp.
	run_vm qemu qemu-system-x86_64 -M q35 -enable-kvm -cpu host -smp $cpus -m $mem -nodefaults \
		-no-user-config -display none -no-reboot -serial stdio -name qemu,debug-threads=on \
		-kernel "$KVIRT_GUEST_KERNEL" -initrd "$KVIRT_GUEST_INITRD_FULL" -append "$cmdline" \
		-drive "file=$img,if=none,id=d0,format=raw,aio=io_uring,cache=none" \
		-device virtio-blk-pci,drive=d0,num-queues=$cpus
	sed "s/^/$round /" /tmp/bench-qemu.res >>/tmp/bench-qemu.all
}
# Odd rounds start with kvirt-vmm, even rounds with QEMU (the image's page
# cache and the host's state after one VM should not always favour one).
for round in $(seq 1 "$rounds"); do
	say "round $round of $rounds"
	if [ $((round % 2)) = 1 ]; then
		run_kvirt
		run_qemu
	else
		run_qemu
		run_kvirt
	fi
done

# sum_job NAME JOB: "ios exits iops-mean rounds-measured iops-per-round"
sum_job() {
	awk -v j="$2" '$2 == j && $5 > 0 { ios += $3; ex += ($4 >= 0 ? $4 : 0); bad += ($4 < 0)
		iops += $5; n++; per = per (per ? "/" : "") $5 }
		END { printf "%d %d %d %d %s\n", ios, bad ? -1 : ex, n ? iops / n : 0, n, per ? per : "-" }' \
		/tmp/bench-"$1".all
}

echo
echo "bench/blk: fio in the guest (libaio, O_DIRECT, ${secs} s per job), $cpus vCPUs, $mem MiB,"
echo "${size_mib} MiB raw image on the nested host's ext4; $rounds round(s), kvirt and QEMU alternating;"
echo "IOPS = mean over rounds; exits/io = KVM debugfs 'exits' delta over the job / fio's I/Os"
printf '%-16s %11s %11s %7s %10s %10s %7s\n' job kvirt-IOPS qemu-IOPS ratio kvirt-x/io qemu-x/io ratio
per_round=
for j in $jobs; do
	# (no process substitution: the nested host has no /dev/fd)
	set -- $(sum_job kvirt "$j")
	kios=$1 kex=$2 kiops=$3 kper=$5
	set -- $(sum_job qemu "$j")
	qios=$1 qex=$2 qiops=$3 qper=$5
	per_round="$per_round$(printf '%-16s kvirt %s  qemu %s' "$j" "$kper" "$qper")"$'\n'
	awk -v j="$j" -v ki="$kiops" -v qi="$qiops" -v kx="$kex" -v kn="$kios" -v qx="$qex" -v qn="$qios" 'BEGIN {
		ke = (kn && kx >= 0) ? sprintf("%.2f", kx / kn) : "-"
		qe = (qn && qx >= 0) ? sprintf("%.2f", qx / qn) : "-"
		printf "%-16s %11s %11s %7s %10s %10s %7s\n", j, ki ? ki : "-", qi ? qi : "-",
			(ki && qi) ? sprintf("%.2fx", ki / qi) : "-", ke, qe,
			(ke != "-" && qe != "-" && qe > 0) ? sprintf("%.2fx", ke / qe) : "-" }'
done
echo "IOPS per round:"
printf '%s' "$per_round" | sed 's/^/  /'
# The same window with the guest idle (sleep instead of fio): exits that
# would happen anyway (timer, halt/wakeup).  They weigh on every job's
# exits/io, most at low IOPS.
idle_rate() {
	awk -v w=$((secs + 2)) '{ s += $1; n++ } END { if (n) printf "%.0f", s / n / w; else printf "-" }' /tmp/bench-"$1".idle
}
echo "background exits/s with the guest idle (${secs} s + 2 s pauses): kvirt $(idle_rate kvirt), qemu $(idle_rate qemu)"
for name in kvirt qemu; do
	grep -a '^BENCH-DIAG' /tmp/bench-$name.log | tr -d '\r' | sed "s/^BENCH-DIAG/$name:/" >&2
	# "BENCH-IRQ  25:  120  3  PCI-MSIX-0000:00:01.0  1-edge  virtio0-req.0": per-CPU counts summed
	irqs=$(grep -a '^BENCH-IRQ' /tmp/bench-$name.log | tr -d '\r' | awk -v c=$cpus '{
		s = 0; for (i = 3; i < 3 + c; i++) s += $i
		printf "%s%s(%s)=%d", sep, $NF, $(3 + c), s; sep = " " }')
	echo "$name guest interrupts (last round): ${irqs:-none seen}"
done
echo "KVM debugfs counters that moved during each job (exit reasons; ~: CPU ticks of the"
echo "nested host, and per thread of the VMM: _user = own code, _guest = in the guest):"
sed 's/^/  /' /tmp/bench-breakdown
[ -s /tmp/bench-trace ] && { echo "KVM trace per job (KVIRT_BENCH_TRACE=1): count, event, details"; cat /tmp/bench-trace; }
rm -f $img
if [ $failed != 0 ]; then
	say "FAIL: see the reasons above; the table holds what was measured"
	exit 1
fi
say "finished"
