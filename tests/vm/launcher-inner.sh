#!/bin/bash
# Runs inside tests/kvmhost: kvirt-launcher cases (see launcher.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/vmm-cases.sh" "$@"
: "${KVIRT_GUEST_DIR:?}"
launcher=$(command -v kvirt-launcher) || { echo "1..0 # SKIP kvirt-launcher not built"; exit 77; }
work=/tmp/launcher-test
rm -rf "$work" && mkdir -p "$work"
L() { "$launcher" run --vmm "$vmm" --kernel-dir "$KVIRT_GUEST_DIR" "$@"; }
kernel_boot() { # kernel_boot KERNEL-ARGS: a kernelBoot block with the test guest
	cat <<YAML
    firmware:
      kernelBoot:
        kernelArgs: "$1"
        container:
          image: $KVIRT_GUEST_DIR
          kernelPath: vmlinuz
          initrdPath: initramfs.cpio.gz
YAML
}
ticks() { kv_complete_lines "$1" | grep -acE '^TICK [0-9]+'; }
# The launcher runs as root here, so kvirt-vmm is jailed in <run dir>/jail:
# the jailed VMM's host pid is in the supervisor's log line.
jailed_pid() { sed -n 's/.*jail: kvirt-vmm runs as pid \([0-9]*\),.*/\1/p' "$1" | head -1; }
mounts() { cut -d' ' -f5 /proc/self/mountinfo | sort; }
mounts_before=$(mounts)

# ---- disks: qcow2 containerDisk + emptyDisk + cloud-init NoCloud ----------
if want disks; then
	log=$logdir/launcher-disks.log
	yes kvirt-container-disk-0123456789 | head -c $((8 << 20)) >"$work/cd.raw"
	truncate -s 32M "$work/cd.raw"
	qemu-img convert -f raw -O qcow2 "$work/cd.raw" "$work/cd.qcow2"
	cd_md5=$(head -c $((8 << 20)) "$work/cd.raw" | md5sum | cut -d' ' -f1)
	printf '#cloud-config\nkvirt-test: launcher-disks\nruncmd:\n  - [echo, "hello from user-data"]\n' >"$work/user-data"
	ud_md5=$(md5sum <"$work/user-data" | cut -d' ' -f1)
	cat >"$work/disks.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: launcher-disks
spec:
  domain:
    cpu: {sockets: 1, cores: 2, threads: 1}
    resources:
      requests: {memory: 192Mi}
$(kernel_boot "$base kvirt.test=launcher-disks kvirt.cd_md5=$cd_md5 kvirt.cd_mib=8 kvirt.empty_bytes=104857600 kvirt.ud_md5=$ud_md5")
    devices:
      disks:
        - name: containerdisk
          disk: {bus: virtio}
        - name: scratch
          disk: {bus: sata}
        - name: cloudinit
          disk: {bus: virtio}
  volumes:
    - name: containerdisk
      containerDisk: {image: cd.qcow2}
    - name: scratch
      emptyDisk: {capacity: 100Mi}
    - name: cloudinit
      cloudInitNoCloud:
        userData: |
$(sed 's/^/          /' "$work/user-data")
YAML
	kv_vm_run 300 "$log" -- L --run-dir "$work/run-disks" "$work/disks.yaml"
	status=$(kv_result_field "$KV_VM_RESULT" status)
	detail=$(kv_result_field "$KV_VM_RESULT" detail)
	if [ "$status" != pass ]; then
		not_ok "disks: qcow2 containerDisk, emptyDisk, cloudInitNoCloud" "guest result '${KV_VM_RESULT:-none}'" "$log"
	elif [ "$KV_VM_RC" != 0 ]; then
		not_ok "disks" "kvirt-launcher exit $KV_VM_RC" "$log"
	elif [ -e "$work/run-disks" ]; then
		not_ok "disks" "run directory left behind: $(ls "$work/run-disks")" "$log"
	elif ! grep -q 'qcow2 .* prepared as sparse raw' "$log"; then
		not_ok "disks" "no qcow2 conversion logged" "$log"
	elif ! grep -q "kvirt-vmm runs jailed: root $work/run-disks/jail, uid 107 gid 107" "$log" ||
		[ -z "$(jailed_pid "$log")" ]; then
		not_ok "disks" "kvirt-vmm did not run jailed" "$log"
	else
		ok "disks: jailed VMM; guest $detail (user-data md5 in the YAML $ud_md5); launcher exit 0, run dir removed"
	fi
fi

# ---- root filesystem through the default kernel's switch-root ------------
rootfs_case() { # rootfs_case NAME whole|part
	local name=$1 layout=$2 log=$logdir/launcher-$1.log dir=$work/rootfs img=$work/$1.img
	want "$name" || return 0
	rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/sbin" "$dir/proc" "$dir/dev" "$dir/sys"
	cp "$(command -v busybox)" "$dir/bin/busybox"
	cat >"$dir/sbin/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "KVIRT-INIT uptime=$(/bin/busybox cut -d' ' -f1 /proc/uptime)"
root=$(/bin/busybox awk '$2 == "/" { r = $1 " " $3 } END { print r }' /proc/mounts)
echo "KVIRT-RESULT name=rootfs status=pass detail=own-init pid=$$ root=$root marker=$(/bin/busybox cat /etc/kvirt-rootfs)"
/bin/busybox sync
/bin/busybox poweroff -f
INIT
	chmod 755 "$dir/sbin/init"
	mkdir -p "$dir/etc" && echo "$name-$$" >"$dir/etc/kvirt-rootfs"
	rm -f "$img"
	if [ "$layout" = part ]; then
		truncate -s 65M "$img"
		# One MBR partition (type 0x83) from sector 2048 to the end, by hand
		# (no sfdisk needed): entry at byte 446, signature 55 aa at 510.
		printf '\0\0\0\0\x83\0\0\0\0\x08\0\0\0\xf8\x01\0' |
			dd of="$img" bs=1 seek=446 conv=notrunc 2>/dev/null
		printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc 2>/dev/null
		mkfs.ext4 -q -F -E offset=1048576 -d "$dir" "$img" 63M >/dev/null
		local want_root=/dev/vda1
	else
		mkfs.ext4 -q -F -d "$dir" "$img" 64M >/dev/null
		local want_root=/dev/vda
	fi
	cat >"$work/$name.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: launcher-$name}
spec:
  domain:
    memory: {guest: 128Mi}
    devices:
      disks: [{name: root, disk: {bus: virtio}}]
  volumes:
    - name: root
      containerDisk: {image: $name.img}
YAML
	kv_vm_run 300 "$log" -- L --run-dir "$work/run-$name" "$work/$name.yaml"
	local detail
	detail=$(kv_result_field "$KV_VM_RESULT" detail)
	if [ "$(kv_result_field "$KV_VM_RESULT" status)" != pass ]; then
		not_ok "$name: ext4 root through the default kernel" "guest result '${KV_VM_RESULT:-none}'" "$log"
	elif [[ "$detail" != *"pid=1 root=$want_root ext4 marker=$name-$$"* ]]; then
		not_ok "$name" "the guest's own init should run as pid 1 on $want_root: $detail" "$log"
	elif [ "$KV_VM_RC" != 0 ]; then
		not_ok "$name" "kvirt-launcher exit $KV_VM_RC" "$log"
	else
		ok "$name: default kernel switch_root to $want_root: $detail"
	fi
}
rootfs_case rootfs whole
rootfs_case rootfs-part part

# ---- control socket, console, power button --------------------------------
# start_vmi NAME GRACE KERNEL-ARGS: runs kvirt-launcher in the background
start_vmi() {
	cat >"$work/$1.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: launcher-$1}
spec:
  terminationGracePeriodSeconds: $2
  domain:
    cpu: {cores: 2}
    memory: {guest: 128Mi}
$(kernel_boot "$3")
YAML
	log=$logdir/launcher-$1.log
	sock=$work/run-$1/control.sock
	# Not through L(): $! must be the launcher itself (the grace case signals it).
	"$launcher" run --vmm "$vmm" --run-dir "$work/run-$1" "$work/$1.yaml" </dev/null >"$log" 2>&1 &
	lpid=$!
	kv_wait_for "$log" '^KVIRT-RESULT' 300
}
if want control; then
	if ! start_vmi control 30 "$base kvirt.test=launcher-ctl kvirt.end=shell"; then
		not_ok "control: guest ready" "no result line" "$log"
	else
		st=$("$launcher" ctl "$sock" status)
		if jq -e '.ok and .phase == "Running" and .paused == false and .vcpus == 2 and
			.memory == 134217728 and (.disks | length) == 0 and (.interfaces | type) == "array" and
			.boot_time_ms > 0 and .uptime_ms > 0 and .vmm_pid > 0' <<<"$st" >/dev/null; then
			ok "status: $st"
		else
			not_ok "status fields" "got: $st" "$log"
		fi
		vmm_pid=$(jq -r .vmm_pid <<<"$st")
		# The jail (issue 10): the VMM proper is the supervisor's child.
		jpid=$(jailed_pid "$log")
		jdir=$work/run-control/jail
		jst=$( [ -n "$jpid" ] && grep -E '^(Uid|Gid|CapEff|CapPrm|NoNewPrivs|Seccomp):' /proc/$jpid/status | tr -s '\t ' ' ' | tr '\n' ' ')
		if [[ -n "$jpid" && "$jst" == *"Uid: 107 107 107 107"* && "$jst" == *"Gid: 107 107 107 107"* &&
			"$jst" == *"CapEff: 0000000000000000"* && "$jst" == *"CapPrm: 0000000000000000"* &&
			"$jst" == *"NoNewPrivs: 1"* && "$jst" == *"Seccomp: 2"* ]] &&
			[ "$(jq -r .jail <<<"$st")" = "$jdir" ]; then
			ok "jail: /proc/$jpid/status (supervisor $vmm_pid): $jst"
		else
			not_ok "jail: /proc/<vmm>/status" "pid ${jpid:-?}: ${jst:-nothing}; status jail $(jq -r .jail <<<"$st")" "$log"
		fi
		root_id=$( [ -n "$jpid" ] && stat -Lc %d:%i /proc/$jpid/root 2>/dev/null)
		jail_id=$(stat -c %d:%i "$jdir" 2>/dev/null)
		inside=$( [ -n "$jpid" ] && ls /proc/$jpid/root 2>/dev/null | tr '\n' ' ')
		if [ -n "$root_id" ] && [ "$root_id" = "$jail_id" ]; then
			ok "jail: /proc/$jpid/root is $jdir (dev:ino $root_id); it holds: $inside"
		else
			not_ok "jail: /proc/<vmm>/root" "root ${root_id:-?}, jail ${jail_id:-?}; holds: $inside" "$log"
		fi
		# Let the counter run a little first, so "stopped" means stopped.
		kv_wait_for "$log" '^TICK ([4-9]|[1-9][0-9]+)([^0-9]|$)' 60
		"$launcher" ctl "$sock" pause >/dev/null
		sleep 1
		a=$(ticks "$log")
		sleep 4
		b=$(ticks "$log")
		paused=$("$launcher" ctl "$sock" status | jq -r .paused)
		if [ "$a" = "$b" ] && [ "$paused" = true ] && [ "$a" -gt 0 ]; then
			ok "pause: the guest counter stays at $a for 4 s; status paused=true"
		else
			not_ok "pause" "counter went $a -> $b while paused (status paused=$paused)" "$log"
		fi
		"$launcher" ctl "$sock" resume >/dev/null
		c=$b
		for i in $(seq 1 300); do
			c=$(ticks "$log")
			[ "$c" -gt "$b" ] && break
			sleep 0.1
		done
		if [ "$c" -gt "$b" ]; then
			ok "resume: the counter moves again ($b -> $c)"
		else
			not_ok "resume" "counter stuck at $b 30 s after resume" "$log"
		fi
		# Console attach: a second process types a command into the guest shell.
		rm -f "$work/con.in" && mkfifo "$work/con.in"
		"$launcher" console "$sock" <"$work/con.in" >"$work/con.log" 2>&1 &
		cpid=$!
		exec 7>"$work/con.in"
		sleep 1
		printf 'echo CONSOLE-$((6 * 7))\n' >&7
		if kv_wait_for "$work/con.log" '^CONSOLE-42' 60 && grep -aq '^TICK' "$work/con.log"; then
			ok "console attach: sees the guest's output and the typed command ran (CONSOLE-42)"
		else
			not_ok "console attach" "no CONSOLE-42 answer" "$work/con.log"
		fi
		exec 7>&-
		kill "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
		"$launcher" ctl "$sock" power-button >/dev/null
		for i in $(seq 1 1200); do
			kill -0 "$lpid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$lpid" 2>/dev/null; then
			kill -9 "$lpid"
			wait "$lpid" 2>/dev/null
			not_ok "power button" "the guest did not power off within 120 s" "$log"
		else
			wait "$lpid"
			rc=$?
			if [ $rc = 0 ] && grep -aq KVIRT-POWER-BUTTON "$log" && [ ! -e /proc/"$vmm_pid" ] &&
				[ ! -e /proc/"${jpid:-0}" ] && [ ! -e "$work/run-control" ]; then
				ok "power button: acpid powered the guest off, launcher exit 0, VMM gone, run dir (and jail) removed"
			else
				not_ok "power button" "launcher exit $rc (want 0), VMM $([ -e /proc/"$vmm_pid" ] && echo alive || echo gone)" "$log"
			fi
		fi
	fi
	kill -9 "$lpid" 2>/dev/null
fi

if want grace; then
	if ! start_vmi grace 5 "$base kvirt.test=launcher-ctl kvirt.acpi=off kvirt.end=none"; then
		not_ok "grace: guest ready" "no result line" "$log"
		kill -9 "$lpid" 2>/dev/null
	else
		vmm_pid=$("$launcher" ctl "$sock" status | jq -r .vmm_pid)
		jpid=$(jailed_pid "$log")
		t0=$(date +%s%N)
		kill -TERM "$lpid"
		wait "$lpid"
		rc=$?
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		if [ $rc = 5 ] && [ "$ms" -ge 5000 ] && [ ! -e /proc/"$vmm_pid" ] && [ -n "$jpid" ] &&
			[ ! -e /proc/"$jpid" ] && [ ! -e "$work/run-grace" ] &&
			grep -q 'did not power off within 5s' "$log"; then
			ok "SIGTERM, guest ignores the button: VMM (and jailed VMM) killed after ${ms} ms (grace 5 s), exit 5, run dir removed"
		else
			not_ok "SIGTERM with grace 5 s" "exit $rc (want 5) after $ms ms; VMM $([ -e /proc/"$vmm_pid" ] && echo alive || echo gone)" "$log"
		fi
	fi
fi

if want kill; then
	if ! start_vmi kill 30 "$base kvirt.test=launcher-ctl kvirt.acpi=off kvirt.end=none"; then
		not_ok "kill: guest ready" "no result line" "$log"
		kill -9 "$lpid" 2>/dev/null
	else
		vmm_pid=$("$launcher" ctl "$sock" status | jq -r .vmm_pid)
		jpid=$(jailed_pid "$log")
		resp=$("$launcher" ctl "$sock" kill)
		wait "$lpid"
		rc=$?
		# SIGKILL hits the supervisor; the jailed VMM follows (PR_SET_PDEATHSIG)
		# and the launcher (a child subreaper) reaps it before it exits.
		if [ $rc = 6 ] && [ -n "$jpid" ] && [ ! -e /proc/"$vmm_pid" ] && [ ! -e /proc/"$jpid" ] &&
			[ ! -e "$work/run-kill" ]; then
			ok "kill on the control socket ($resp): VMM and jailed VMM gone, launcher exit 6, run dir removed"
		else
			not_ok "kill on the control socket" "exit $rc (want 6), response $resp; supervisor $vmm_pid $([ -e /proc/"$vmm_pid" ] && echo alive || echo gone), jailed VMM ${jpid:-?} $([ -e /proc/"${jpid:-0}" ] && grep State /proc/"$jpid"/status || echo gone), run dir $([ -e "$work/run-kill" ] && echo left || echo removed)" "$log"
		fi
	fi
fi

# ---- how the guest ended -> the launcher's exit status ---------------------
# exit_case NAME KERNEL-ARGS WANT-EXIT WHAT: the guest reboots or panics.
exit_case() {
	local name=$1 args=$2 want_rc=$3 what=$4 log=$logdir/launcher-$1.log rc i
	want "$name" || return 0
	cat >"$work/$name.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: launcher-$name}
spec:
  domain:
    memory: {guest: 128Mi}
$(kernel_boot "$args")
YAML
	"$launcher" run --vmm "$vmm" --run-dir "$work/run-$name" "$work/$name.yaml" </dev/null >"$log" 2>&1 &
	local pid=$!
	for i in $(seq 1 3000); do
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill -9 $pid 2>/dev/null
	wait $pid
	rc=$?
	if [ $rc = "$want_rc" ] && [ ! -e "$work/run-$name" ]; then
		ok "$name: $what -> launcher exit $rc ($(grep -o 'kvirt-launcher: [a-z].*' "$log" | tail -1))"
	else
		not_ok "$name: $what" "launcher exit $rc, want $want_rc" "$log"
	fi
}
exit_case crash "$base kvirt.test=vmm-panic" 3 "guest kernel panics"

# ---- a guest reboot restarts the VM in place (KubeVirt keeps the VMI) -------
# The guest marks its (empty) disk and reboots; kvirt-vmm resets the machine
# in the same jailed process and the second boot finds the mark and powers
# off: the launcher exits 0 once, having never restarted anything itself.
if want reboot; then
	log=$logdir/launcher-reboot.log
	cat >"$work/reboot.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: launcher-reboot}
spec:
  domain:
    memory: {guest: 128Mi}
    devices:
      disks: [{name: scratch, disk: {}}]
$(kernel_boot "$base kvirt.test=vmm-reboot")
  volumes: [{name: scratch, emptyDisk: {capacity: 4Mi}}]
YAML
	KVIRT_LOG_LEVEL=info kv_vm_run 400 "$log" -- L --run-dir "$work/run-reboot" "$work/reboot.yaml"
	if ! grep -q 'boot 1: marking' "$log"; then
		not_ok "reboot: guest reboot -> reset in place" "the first boot never ran" "$log"
	elif [ "$(kv_result_field "$KV_VM_RESULT" status)" != pass ] || [ "$KV_VM_RC" != 0 ]; then
		not_ok "reboot: guest reboot -> reset in place" "result '${KV_VM_RESULT:-none}', launcher exit $KV_VM_RC (want pass, 0)" "$log"
	elif [ "$(grep -c 'machine reset in place' "$log")" != 1 ] || [ "$(grep -c 'kvirt-vmm pid' "$log")" != 1 ]; then
		not_ok "reboot: guest reboot -> reset in place" "want one reset by one kvirt-vmm process" "$log"
	elif [ -e "$work/run-reboot" ]; then
		not_ok "reboot: guest reboot -> reset in place" "run dir left behind" "$log"
	else
		ok "reboot: guest reboot -> kvirt-vmm resets the machine in place (jailed), second boot: $(kv_result_field "$KV_VM_RESULT" detail); launcher exit 0"
	fi
fi

# ---- no-jail, and nothing left mounted ------------------------------------
if want nojail; then
	log=$logdir/launcher-nojail.log
	cat >"$work/nojail.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: launcher-nojail}
spec:
  domain:
    memory: {guest: 128Mi}
$(kernel_boot "$base kvirt.test=hello")
YAML
	kv_vm_run 300 "$log" -- L --no-jail --run-dir "$work/run-nojail" "$work/nojail.yaml"
	if [ "$(kv_result_field "$KV_VM_RESULT" status)" = pass ] && [ "$KV_VM_RC" = 0 ] &&
		grep -q 'warning: --no-jail' "$log" && ! grep -q 'jail: kvirt-vmm runs as pid' "$log" &&
		[ ! -e "$work/run-nojail" ]; then
		ok "--no-jail: warned, VMM not jailed, guest passed, exit 0"
	else
		not_ok "--no-jail" "guest '${KV_VM_RESULT:-none}', exit $KV_VM_RC" "$log"
	fi
fi
mounts_after=$(mounts)
if [ "$mounts_before" = "$mounts_after" ]; then
	ok "no mounts left behind ($(wc -l <<<"$mounts_after") in /proc/self/mountinfo before and after)"
else
	not_ok "mounts left behind" "$(diff <(echo "$mounts_before") <(echo "$mounts_after") | tr '\n' ' ')" /dev/null
fi

echo "1..$n"
[ $failed = 0 ]
