#!/bin/bash
# The undo journal: a setup that fails at any step leaves the pod namespace
# exactly as it was (for both bindings), and a real tap (multi-queue,
# vnet_hdr) is created, enslaved and removed again.
. "$(dirname "$0")/lib.sh"
kvt_require

kvt_make_pod || { tap_ok 1 "build the pod fixture"; tap_finish; exit 1; }
# A secondary address too: deleting a primary would take it along, so the
# journal must delete it first and restore it after the primary.
ip -n "$POD" addr add 10.244.1.6/24 dev eth0
kvt_snapshot before
check "the fixture has a secondary address" grep -q '"secondary": true' "$KVT_TMP/before.addr"

for binding in bridge masquerade; do
	failed=0
	for step in $(seq 1 40); do
		ip netns exec "$POD" "$NETSETUP" --binding "$binding" --guest-link vg0 \
			--resolv "$KVT_TMP/resolv.conf" --port tcp:80 --fail-at "$step" --once \
			>"$KVT_TMP/once.out" 2>"$KVT_TMP/once.err"
		rc=$?
		if [ $rc = 0 ]; then
			# Past the last step: the setup succeeded (and --once tore it down).
			grep -q '^READY' "$KVT_TMP/once.out"
			tap_ok $? "$binding: a setup with all $((step - 1)) steps succeeds and is undone"
			kvt_snapshot "$binding-ok"
			kvt_same before "$binding-ok" "$binding: namespace restored after --once"
			break
		fi
		failed=$((failed + 1))
		grep -q 'fail-at test hook' "$KVT_TMP/once.err"
		tap_ok $? "$binding: setup failing at step $step reports the hook"
		kvt_snapshot "$binding-fail-$step"
		kvt_same before "$binding-fail-$step" "$binding: namespace restored after failing at step $step"
	done
	check "$binding: at least 4 steps were exercised ($failed)" test "$failed" -ge 4
done

# A real tap with 4 queues.
kvt_start_setup --binding bridge --queues 4 --resolv "$KVT_TMP/resolv.conf"
tap_ok $? "bridge binding with a 4-queue tap sets up"
grep -q 'tap_fds=4' "$KVT_TMP/setup.out"
tap_ok $? "four tap fds handed over"
info=$(ip -n "$POD" -d -j link show tap0 | jq -c '.[0].linkinfo.info_data')
diag "tap0: $info"
is "$(jq -r .type <<<"$info")" tap "tap0 is a tap"
is "$(jq -r .multi_queue <<<"$info")" true "tap0 is multi-queue"
is "$(jq -r .vnet_hdr <<<"$info")" true "tap0 has vnet_hdr"
is "$(jq -r .pi <<<"$info")" false "tap0 has no packet info header"
is "$(ip -n "$POD" -j link show tap0 | jq -r '.[0].master')" k6t-eth0 "tap0 is a port of k6t-eth0"
is "$(ip -n "$POD" -j link show tap0 | jq -r '.[0].mtu')" 1400 "tap0 MTU is the pod MTU"
kvt_stop_setup
tap_ok $? "SIGTERM: exits 0"
check "tap0 is gone" bash -c "! ip -n $POD link show tap0"
kvt_snapshot after-tap
kvt_same before after-tap "namespace restored after the tap run"

# A setup error (the guest link does not exist) is reported and undone.
ip netns exec "$POD" "$NETSETUP" --binding bridge --guest-link nosuch0 \
	--resolv "$KVT_TMP/resolv.conf" --once >/dev/null 2>"$KVT_TMP/err"
tap_ok $((!$?)) "a missing guest link fails the setup"
grep -q 'nosuch0' "$KVT_TMP/err"
tap_ok $? "the error names the missing link"
sed 's/^/# /' "$KVT_TMP/err"
kvt_snapshot after-err
kvt_same before after-err "namespace restored after a real setup error"
tap_finish
