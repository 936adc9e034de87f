#!/bin/bash
# Shared fixture of the net suite (sourced).  It builds, entirely inside
# network namespaces this test creates (never touching the machine's own
# interfaces):
#
#   node ns                 pod ns                               guest ns
#   veth-pod 10.244.1.1 ── eth0 10.244.1.5/24, mtu 1400          (stands in for the VM)
#                            default via 10.244.1.1
#                            10.96.0.0/12 via 10.244.1.1 metric 100 src 10.244.1.5
#                            192.168.50.0/24 dev eth0 (on-link, proto static)
#                           vg0 ───────────────────────────────── eth0
#
# vg0 is what the binding attaches instead of a tap (--guest-link), because a
# tap needs a VMM to read it; the guest side runs busybox udhcpc.
# Everything is removed by an EXIT trap, also when the test fails.
set -u

KVT_NS=kvt$$
POD=$KVT_NS-pod
NODE=$KVT_NS-node
GUEST=$KVT_NS-guest
NETSETUP=${KVIRT_NETSETUP:-${KVIRT_BUILD_DIR:-build}/net/kvirt-netsetup}
KVT_TMP=$(mktemp -d /tmp/kvirt-net.XXXXXX)
export KVT_TMP
SETUP_PID=
BG_PIDS=()
t_n=0
t_fail=0

tap_ok() { # STATUS DESCRIPTION
	t_n=$((t_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $t_n - $2"
	else
		echo "not ok $t_n - $2"
		t_fail=$((t_fail + 1))
	fi
}
check() { # DESCRIPTION CMD... : ok when CMD succeeds
	local d=$1
	shift
	"$@" >/dev/null 2>&1
	tap_ok $? "$d"
}
is() { # GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then
		tap_ok 0 "$3"
	else
		tap_ok 1 "$3"
		echo "#   got \"$1\", want \"$2\""
	fi
}
diag() { echo "# $*"; }
tap_finish() {
	echo "1..$t_n"
	[ "$t_fail" = 0 ]
}

kvt_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP needs root (network namespaces)"
		exit 77
	fi
	local t
	for t in ip nft busybox jq python3 timeout; do
		if ! command -v $t >/dev/null; then
			echo "1..0 # SKIP $t is not installed (scripts/deps.sh)"
			exit 77
		fi
	done
	if [ ! -x "$NETSETUP" ]; then
		echo "1..0 # SKIP $NETSETUP is not built"
		exit 77
	fi
	if ! ip netns add "$KVT_NS-probe" 2>/dev/null; then
		echo "1..0 # SKIP cannot create network namespaces here"
		exit 77
	fi
	ip netns del "$KVT_NS-probe"
}

kvt_kill_bg() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	BG_PIDS=()
}

kvt_cleanup() {
	local p
	if [ -n "$SETUP_PID" ]; then
		kill -KILL "$SETUP_PID" 2>/dev/null
		wait "$SETUP_PID" 2>/dev/null
	fi
	kvt_kill_bg
	for p in "$GUEST" "$POD" "$NODE"; do
		ip netns del "$p" 2>/dev/null
	done
	rm -rf "$KVT_TMP"
}
trap kvt_cleanup EXIT
trap 'exit 130' INT TERM

# kvt_make_pod [onlink]: with "onlink" the pod looks like Calico's: a /32
# address and a default route via 169.254.1.1, reachable only through an
# on-link route; the node answers for it by proxy ARP (which needs
# forwarding on) and has its own
# address 10.0.0.1 on another link (a veth in the node namespace).
kvt_make_pod() {
	ip netns add "$POD" && ip netns add "$NODE" && ip netns add "$GUEST" || return 1
	local ns
	for ns in "$POD" "$NODE" "$GUEST"; do
		ip -n "$ns" link set lo up || return 1
	done
	ip -n "$NODE" link add veth-pod type veth peer name eth0 netns "$POD" &&
		ip -n "$NODE" link set veth-pod mtu 1400 up &&
		ip -n "$POD" link set eth0 mtu 1400 up || return 1
	if [ "${1:-}" = onlink ]; then
		ip -n "$NODE" link add node0 type veth peer name node1 &&
			ip -n "$NODE" addr add 10.0.0.1/24 dev node0 &&
			ip -n "$NODE" link set node1 up &&
			ip -n "$NODE" link set node0 up &&
			ip -n "$NODE" route add default dev node0 &&
			ip -n "$NODE" route add 10.244.1.5/32 dev veth-pod &&
			ip netns exec "$NODE" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward' &&
			ip netns exec "$NODE" sh -c 'echo 1 >/proc/sys/net/ipv4/conf/veth-pod/proxy_arp' &&
			ip -n "$POD" addr add 10.244.1.5/32 dev eth0 &&
			ip -n "$POD" route add 169.254.1.1 dev eth0 scope link &&
			ip -n "$POD" route add default via 169.254.1.1 dev eth0 || return 1
	else
		ip -n "$NODE" addr add 10.244.1.1/24 dev veth-pod &&
			ip -n "$POD" addr add 10.244.1.5/24 dev eth0 &&
			ip -n "$POD" route add default via 10.244.1.1 &&
			ip -n "$POD" route add 10.96.0.0/12 via 10.244.1.1 metric 100 src 10.244.1.5 &&
			ip -n "$POD" route add 192.168.50.0/24 dev eth0 proto static scope link || return 1
	fi
	ip -n "$POD" link add vg0 type veth peer name eth0 netns "$GUEST" &&
		ip -n "$POD" link set vg0 up &&
		ip -n "$GUEST" link set eth0 up || return 1
	cat >"$KVT_TMP/resolv.conf" <<'RESOLV'
# written by the test, like the kubelet's
nameserver 10.96.0.10
search default.svc.cluster.local svc.cluster.local cluster.local
options ndots:5
RESOLV
	POD_MAC=$(ip -n "$POD" -j link show eth0 | jq -r '.[0].address')
}

# Dump the pod namespace once it is quiet (no tentative IPv6 address, two
# equal dumps in a row), so before/after comparisons see states, not moments.
kvt_snapshot() { # NAME
	local prev="" cur i
	for i in $(seq 50); do
		cur=$( (ip -n "$POD" -j addr; ip -n "$POD" -j route; ip -n "$POD" -j link) 2>&1)
		if [ "$cur" = "$prev" ] && ! grep -q tentative <<<"$cur"; then
			break
		fi
		prev=$cur
		sleep 0.1
	done
	ip -n "$POD" -j addr | jq -S . >"$KVT_TMP/$1.addr"
	ip -n "$POD" -j route | jq -S . >"$KVT_TMP/$1.route"
	ip -n "$POD" -j link | jq -S . >"$KVT_TMP/$1.link"
	ip netns exec "$POD" nft list ruleset >"$KVT_TMP/$1.nft"
	ip netns exec "$POD" cat /proc/sys/net/ipv4/ip_forward >"$KVT_TMP/$1.fwd"
}

# ok when the pod namespace after equals before, in every dump
kvt_same() { # BEFORE AFTER DESCRIPTION
	local f rc=0
	for f in addr route link nft fwd; do
		if ! cmp -s "$KVT_TMP/$1.$f" "$KVT_TMP/$2.$f"; then
			rc=1
			diag "$f differs:"
			diff "$KVT_TMP/$1.$f" "$KVT_TMP/$2.$f" | head -20 | sed 's/^/#   /'
		fi
	done
	tap_ok $rc "$3"
}

# Start kvirt-netsetup in the pod; waits for READY and sets GUEST_MAC.
kvt_start_setup() { # ARGS...
	: >"$KVT_TMP/setup.out"
	ip netns exec "$POD" "$NETSETUP" "$@" >"$KVT_TMP/setup.out" 2>"$KVT_TMP/setup.err" &
	SETUP_PID=$!
	local i
	for i in $(seq 100); do
		grep -q '^READY' "$KVT_TMP/setup.out" && break
		kill -0 "$SETUP_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^READY' "$KVT_TMP/setup.out"; then
		diag "kvirt-netsetup did not get ready:"
		sed 's/^/#   /' "$KVT_TMP/setup.err"
		return 1
	fi
	GUEST_MAC=$(sed -n 's/^READY guest_mac=\([^ ]*\).*/\1/p' "$KVT_TMP/setup.out")
}

# SIGTERM the setup program and wait for it; its exit status is returned.
kvt_stop_setup() {
	local rc=0
	kill -TERM "$SETUP_PID" 2>/dev/null
	wait "$SETUP_PID" || rc=$?
	SETUP_PID=
	return $rc
}

kvt_stat() { # NAME : a DHCP counter from the STATS line
	sed -n "s/^STATS.* $1=\([0-9]*\).*/\1/p" "$KVT_TMP/setup.out"
}

# Run udhcpc in the guest namespace with the guest MAC; the lease's
# variables land in $KVT_TMP/lease and the address is configured.
kvt_guest_dhcp() { # MAC
	cat >"$KVT_TMP/udhcpc.sh" <<'SCRIPT'
#!/bin/sh
[ "$1" = bound ] || exit 0
for v in ip subnet router dns domain search mtu hostname staticroutes lease serverid broadcast; do
	eval "echo $v=\"\${$v:-}\""
done >"$KVT_TMP/lease"
ip link set dev "$interface" mtu "$mtu"
ip addr add "$ip/$subnet" dev "$interface"
# Like a real client: option 121 replaces the router option (RFC 3442).
if [ -n "${staticroutes:-}" ]; then
	set -- $staticroutes
	while [ $# -ge 2 ]; do
		if [ "$2" = 0.0.0.0 ]; then
			ip route add "$1" dev "$interface"
		else
			ip route add "$1" via "$2" dev "$interface"
		fi
		shift 2
	done
else
	ip route add default via "$router"
fi
SCRIPT
	chmod +x "$KVT_TMP/udhcpc.sh"
	rm -f "$KVT_TMP/lease"
	ip -n "$GUEST" link set eth0 address "$1" up || return 1
	timeout 20 ip netns exec "$GUEST" busybox udhcpc -i eth0 -f -q -n -t 4 -T 1 \
		-s "$KVT_TMP/udhcpc.sh" >"$KVT_TMP/udhcpc.log" 2>&1
}

# Wait until something listens on TCP PORT in namespace NS (slow machines
# take a while to start a listener; a fixed sleep would make tests flaky).
kvt_wait_listen() { # NS PORT
	local i
	for i in $(seq 100); do
		[ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ] && return 0
		sleep 0.1
	done
	diag "nothing listens on port $2 in $1"
	return 1
}

kvt_lease() { # VAR
	sed -n "s/^$1=//p" "$KVT_TMP/lease" 2>/dev/null
}
