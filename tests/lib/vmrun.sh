# shellcheck shell=bash
# kv_vm_run TIMEOUT LOG -- CMD... : boot a VM with CMD (kvirt-vmm, QEMU, …)
# whose serial console goes to CMD's stdout, wait for the guest's
# "KVIRT-RESULT" line (see tests/guest/init), then give the VM up to 15 s to
# exit by itself before killing it.  Sets:
#   KV_VM_INIT_MS    exec -> "KVIRT-INIT" line seen (guest init running), or ""
#   KV_VM_RESULT_MS  exec -> "KVIRT-RESULT" line seen, or ""
#   KV_VM_RESULT     the result line, or ""
#   KV_VM_RC         CMD's exit status, or "killed" if it had to be killed
# Returns 0 when a result line was seen, 1 otherwise (timeout or VM exit).
# Times are polled every 10 ms: fine for comparing boots in the same run,
# not a precise benchmark on their own.
# kv_complete_lines FILE: FILE without a trailing partial line.  The file is
# read once, so a line growing meanwhile cannot slip through half-written.
kv_complete_lines() {
	local s
	s=$(tr -d '\0' <"$1"; echo .)
	s=${s%.}
	case "$s" in
	*$'\n') printf '%s' "$s" ;;
	*$'\n'*) printf '%s\n' "${s%$'\n'*}" ;;
	esac
}

# kv_wait_for FILE REGEX SECONDS: true once a complete line of FILE matches.
kv_wait_for() {
	local i
	for i in $(seq 1 $(($3 * 10))); do
		kv_complete_lines "$1" | grep -aqE "$2" && return 0
		sleep 0.1
	done
	return 1
}

kv_vm_run() {
	local timeout_s=$1 log=$2 pid t0 now line
	shift 2
	[ "$1" = -- ] && shift
	KV_VM_INIT_MS= KV_VM_RESULT_MS= KV_VM_RESULT= KV_VM_RC=
	: >"$log"
	t0=$(date +%s%N)
	"$@" </dev/null >"$log" 2>&1 &
	pid=$!
	local deadline=$(( t0 + timeout_s * 1000000000 ))
	local alive
	while :; do
		now=$(date +%s%N)
		# Checked before the log is read: a VMM that wrote its last line
		# and exited between the scan and the check would be missed.
		alive=1
		kill -0 "$pid" 2>/dev/null || alive=0
		if [ -z "$KV_VM_INIT_MS" ] && grep -q '^KVIRT-INIT' "$log"; then
			KV_VM_INIT_MS=$(( (now - t0) / 1000000 ))
		fi
		# The console arrives byte by byte: only a line that has its
		# newline is complete.
		line=$(kv_complete_lines "$log" | grep -a -m1 '^KVIRT-RESULT' | tr -d '\r')
		if [ -n "$line" ]; then
			KV_VM_RESULT_MS=$(( (now - t0) / 1000000 ))
			[ -n "$KV_VM_INIT_MS" ] || KV_VM_INIT_MS=$KV_VM_RESULT_MS
			KV_VM_RESULT=$line
			break
		fi
		[ "$alive" = 1 ] || break
		[ "$now" -lt "$deadline" ] || break
		sleep 0.01
	done
	# Let the guest power off on its own; kill only if it does not.
	local i
	for i in $(seq 1 1500); do
		kill -0 "$pid" 2>/dev/null || break
		[ -n "$KV_VM_RESULT" ] || break
		sleep 0.01
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		KV_VM_RC=killed
	else
		wait "$pid"
		KV_VM_RC=$?
	fi
	[ -n "$KV_VM_RESULT" ]
}

# kv_result_field LINE KEY -> value of KEY= in a KVIRT-RESULT line ("detail"
# takes the rest of the line).
kv_result_field() {
	local line=$1 key=$2
	if [ "$key" = detail ]; then
		printf '%s\n' "${line#*detail=}"
	else
		printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$key=//p" | head -n1
	fi
}
