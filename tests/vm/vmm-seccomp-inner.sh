#!/bin/bash
# Runs inside tests/kvmhost (/tmp there is ext4, so cache=none works).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/vmm-cases.sh" "$@"

# wait_console LOG PID PATTERN SECONDS: until a complete console line matches
# or PID is gone; prints the line.
wait_console() {
	local log=$1 pid=$2 pat=$3 i
	for i in $(seq 1 $(($4 * 20))); do
		kv_complete_lines "$log" | grep -a -m1 "$pat" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kv_complete_lines "$log" | grep -a -m1 "$pat"
}

# jail: the disk workload of vmm-blk (tests/guest/tests/vmm-blk.sh) in a
# jailed VM with seccomp on and the thread-pool backend (its worker threads
# run under the I/O allow-list), then /proc of the running VMM.
if want jail; then
	jail=/tmp/kvirt-jail log=$logdir/vmm-seccomp-jail.log
	rw=/tmp/sc-rw.img ro=/tmp/sc-ro.img
	rm -rf $jail $rw && mkdir -p $jail && truncate -s 64M $rw
	yes kvirt-read-only-disk | head -c $((16 << 20)) >$ro
	ro_md5=$(head -c $((4 << 20)) $ro | md5sum | cut -d' ' -f1)
	env KVIRT_LOG_LEVEL=info "$vmm" --kernel "$KVIRT_GUEST_KERNEL" --initrd "$KVIRT_GUEST_INITRD" \
		--cpus 2 --memory 256M --disk "path=$rw,cache=none,backend=threads" \
		--disk "path=$ro,readonly=on,serial=kvirt-ro,backend=threads" \
		--jail $jail --uid 65534 --gid 65534 --jail-nofile 256 \
		--cmdline "$base kvirt.test=vmm-blk kvirt.end=none" </dev/null >"$log" 2>&1 &
	sup=$!
	result=$(wait_console "$log" $sup '^KVIRT-RESULT' 300)
	vpid=$(sed -n 's/.*jail: kvirt-vmm runs as pid \([0-9]*\),.*/\1/p' "$log" | head -1)
	st=$( [ -n "$vpid" ] && grep -E '^(Uid|CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/$vpid/status | tr -s '\t ' ' ' | tr '\n' ' ')
	root_id=$( [ -n "$vpid" ] && stat -Lc %d:%i /proc/$vpid/root 2>/dev/null)
	jail_id=$(stat -c %d:%i $jail)
	inside=$( [ -n "$vpid" ] && ls /proc/$vpid/root 2>/dev/null | tr '\n' ' ')
	kill -TERM $sup 2>/dev/null
	wait $sup
	rc=$?
	host_md5=$(head -c $((8 << 20)) $rw | md5sum | cut -d' ' -f1)
	detail=$(kv_result_field "$result" detail)
	if [ "$(kv_result_field "$result" status)" != pass ]; then
		not_ok "jail: disk workload" "guest result '${result:-none}', exit $rc; $(grep -a 'seccomp:' "$log")" "$log"
	elif [[ "$detail" != *"vda_md5=$host_md5"* || "$detail" != *"vdb_md5=$ro_md5"* ]]; then
		not_ok "jail: disk workload" "host md5 $host_md5/$ro_md5, guest: $detail" "$log"
	else
		ok "jail: disk workload (threads backend, cache=none) under seccomp: $detail = host md5"
	fi
	[ -n "$vpid" ] || not_ok "jail: VMM pid" "no 'jail: kvirt-vmm runs as pid' line" "$log"
	if [[ "$st" == *"CapEff: 0000000000000000"* && "$st" == *"CapPrm: 0000000000000000"* &&
		"$st" == *"CapBnd: 0000000000000000"* && "$st" == *"Seccomp: 2"* &&
		"$st" == *"NoNewPrivs: 1"* && "$st" == *"Uid: 65534 65534 65534 65534"* ]]; then
		ok "jail: /proc/$vpid/status: $st"
	else
		not_ok "jail: /proc/<vmm>/status" "got: ${st:-nothing}" "$log"
	fi
	if [ -n "$root_id" ] && [ "$root_id" = "$jail_id" ]; then
		ok "jail: /proc/$vpid/root is $jail (dev:ino $root_id); it holds: $inside"
	else
		not_ok "jail: /proc/<vmm>/root" "root ${root_id:-?}, jail $jail_id; holds: $inside" "$log"
	fi
	# SIGTERM to the supervisor reaches the jailed VMM (PID 1 of its namespace).
	if [ "$rc" = 143 ]; then
		ok "jail: SIGTERM forwarded, exit 143"
	else
		not_ok "jail: SIGTERM forwarded" "exit $rc, want 143" "$log"
	fi
	rm -rf $jail $rw $ro
fi

# trigger: the guest prints the test trigger on its console; a test build's
# UART then makes the vCPU thread call openat.  With seccomp the VMM dies
# (159) naming openat; with --seccomp=off (the control) it goes on.
trigger_case() {
	local name=$1 flag=$2 log=$logdir/vmm-seccomp-$1.log
	want "$name" || return 0
	if [ "${KVIRT_TEST_HOOKS:-0}" != 1 ]; then
		n=$((n + 1))
		echo "ok $n - $name # SKIP kvirt-vmm built without -Dtest_hooks=true"
		return 0
	fi
	local script
	script=$(printf 'echo KVIRT-TEST-SECCOMP-TRIGGER\nsleep 5\necho survived\n' | base64 -w0)
	kv_vm_run 300 "$log" -- "$vmm" --kernel "$KVIRT_GUEST_KERNEL" --initrd "$KVIRT_GUEST_INITRD" \
		--memory 256M $flag --cmdline "$base kvirt.run=$script"
	local line
	line=$(grep -a 'seccomp: forbidden syscall' "$log" | head -1)
	if [ "$flag" = --seccomp=off ]; then
		if grep -q 'SECCOMP IS OFF' "$log" && grep -q 'openat succeeded' "$log" &&
			[[ "$KV_VM_RESULT" == *status=pass* ]]; then
			ok "$name: --seccomp=off warns and the forbidden openat goes through (control)"
		else
			not_ok "$name: control run" "rc $KV_VM_RC, result '${KV_VM_RESULT:-none}'" "$log"
		fi
	elif [ "$KV_VM_RC" = 159 ] && [[ "$line" == *"forbidden syscall openat"*"(vcpu allow-list)"* ]] &&
		[ -z "$KV_VM_RESULT" ]; then
		ok "$name: guest-triggered openat killed the VMM (exit 159): $line"
	else
		not_ok "$name: forbidden syscall" "rc $KV_VM_RC, line '${line:-none}', result '${KV_VM_RESULT:-none}'" "$log"
	fi
}
trigger_case trigger ""
trigger_case trigger-off --seccomp=off

echo "1..$n"
[ $failed = 0 ]
