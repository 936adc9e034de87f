#!/bin/bash
# Inside tests/kvmhost: the boot and memory part of bench/launcher.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lib/vmrun.sh"
. "$here/lib.sh" # median, overhead_kib
runs=${1:-5}
mem_mib=256
mkdir -p /tmp/boot
cp "$KVIRT_GUEST_KERNEL" /tmp/boot/vmlinuz && cp "$KVIRT_GUEST_INITRD" /tmp/boot/initrd
cmdline="console=ttyS0 quiet panic=-1 kvirt.test=hello"
vmm=$(command -v kvirt-vmm)
launcher=$(command -v kvirt-launcher)
vmi() { # vmi CMDLINE
	cat <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: bench}
spec:
  domain:
    memory: {guest: ${mem_mib}Mi}
    firmware:
      kernelBoot:
        kernelArgs: "$1"
        container: {image: /tmp/boot, kernelPath: vmlinuz, initrdPath: initrd}
    devices: {}
YAML
}
vmi "$cmdline" >/tmp/bench.yaml
vmi "$cmdline kvirt.end=none" >/tmp/bench-idle.yaml
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
wait_result() {
	for _ in $(seq 1 3000); do grep -q '^KVIRT-RESULT' "$1" && return 0; sleep 0.1; done
	return 1
}

# Memory: both stay up after the result line.
"$vmm" --kernel /tmp/boot/vmlinuz --initrd /tmp/boot/initrd --memory ${mem_mib}M \
	--cmdline "$cmdline kvirt.end=none" </dev/null >/tmp/bench-bare.log 2>&1 &
pid=$!
wait_result /tmp/bench-bare.log; sleep 1
read -r bare_over bare_guest <<<"$(overhead_kib $pid $mem_mib)"
kill -9 $pid; wait $pid 2>/dev/null
"$launcher" run --run-dir /tmp/bench-run /tmp/bench-idle.yaml </dev/null >/tmp/bench-l.log 2>&1 &
lpid=$!
wait_result /tmp/bench-l.log; sleep 1
vpid=$("$launcher" ctl /tmp/bench-run/control.sock status | jq -r .vmm_pid)
read -r l_over l_guest <<<"$(overhead_kib "$vpid" $mem_mib)"
l_rss=$(rss_kib $lpid)
"$launcher" ctl /tmp/bench-run/control.sock kill >/dev/null
wait $lpid 2>/dev/null

declare -A init_ms
spawn_us=()
for i in $(seq 1 "$runs"); do
	kv_vm_run 300 /tmp/bench-v$i.log -- "$vmm" --kernel /tmp/boot/vmlinuz --initrd /tmp/boot/initrd \
		--memory ${mem_mib}M --cmdline "$cmdline"
	echo "bench: kvirt-vmm run $i: exec->init ${KV_VM_INIT_MS:-?} ms" >&2
	init_ms[vmm]+="${KV_VM_INIT_MS} "
	kv_vm_run 300 /tmp/bench-l$i.log -- "$launcher" run --run-dir /tmp/bench-run /tmp/bench.yaml
	echo "bench: kvirt-launcher run $i: exec->init ${KV_VM_INIT_MS:-?} ms, exit ${KV_VM_RC:-?}" >&2
	init_ms[launcher]+="${KV_VM_INIT_MS} "
	spawn_us+=("$(sed -n 's/.*spawned \([0-9]*\) us after start.*/\1/p' /tmp/bench-l$i.log)")
done
vi=$(tr ' ' '\n' <<<"${init_ms[vmm]}" | grep . | median)
li=$(tr ' ' '\n' <<<"${init_ms[launcher]}" | grep . | median)
echo
echo "bench/launcher: 1 vCPU, ${mem_mib} MiB, Debian cloud kernel + test initramfs, median of $runs runs (alternating), inside kvmhost (${KVMHOST:-?})"
printf '%-40s %14s %16s\n' "metric" "kvirt-vmm" "kvirt-launcher"
printf '%-40s %14s %16s\n' "exec -> guest init (ms)" "$vi" "$li"
printf '%-40s %14s %16s\n' "launcher start -> VMM fork (us)" "-" "$(printf '%s\n' "${spawn_us[@]}" | grep . | median)"
printf '%-40s %14s %16s\n' "VMM RSS beyond guest memory (KiB)" "$bare_over" "$l_over"
printf '%-40s %14s %16s\n' "launcher process RSS (KiB)" "-" "$l_rss"
printf '%-40s %14s %16s\n' "overhead vs bare kvirt-vmm (KiB)" "0" "$((l_over + l_rss - bare_over))"
echo "runs (exec->init ms): kvirt-vmm: ${init_ms[vmm]}| kvirt-launcher: ${init_ms[launcher]}"
