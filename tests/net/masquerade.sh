#!/bin/bash
# Masquerade binding end to end: the guest stand-in gets 10.0.2.2 from our
# DHCP server, reaches the node with the pod IP as its source, a listed TCP
# port on the pod IP reaches a listener in the guest (an unlisted one does
# not), and after SIGTERM the pod namespace is as before (no nft table, no
# bridge, ip_forward back).
. "$(dirname "$0")/lib.sh"
kvt_require

kvt_make_pod || { tap_ok 1 "build the pod fixture"; tap_finish; exit 1; }
kvt_snapshot before

kvt_start_setup --binding masquerade --guest-link vg0 --resolv "$KVT_TMP/resolv.conf" \
	--port tcp:8080 --port udp:5353 --nft-table kvirt_test
tap_ok $? "kvirt-netsetup sets the masquerade binding up"
check "eth0 keeps the pod IP" bash -c "ip -n $POD -4 addr show eth0 | grep -q 10.244.1.5/24"
check "nft table kvirt_test exists" ip netns exec "$POD" nft list table ip kvirt_test
ip netns exec "$POD" nft list table ip kvirt_test | sed 's/^/# nft: /'
is "$(ip netns exec "$POD" cat /proc/sys/net/ipv4/ip_forward)" 1 "ip_forward on while bound"

kvt_guest_dhcp "$GUEST_MAC"
tap_ok $? "udhcpc in the guest gets a lease"
is "$(kvt_lease ip)" 10.0.2.2 "guest address 10.0.2.2"
is "$(kvt_lease subnet)" 255.255.255.0 "subnet mask /24"
is "$(kvt_lease router)" 10.0.2.1 "gateway 10.0.2.1"
is "$(kvt_lease dns)" 10.96.0.10 "DNS server from resolv.conf"
is "$(kvt_lease mtu)" 1400 "MTU is the pod MTU"

# Count, on the node, what arrives from the pod IP and from the guest's own
# address (anonymous counters: named ones fail with ENOENT in the nested
# test host, whose kernel lacks a module for them).
ip netns exec "$NODE" nft -f - <<'NFT'
table ip kvtest {
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr 10.244.1.5 tcp dport 9000 counter
		ip saddr 10.0.2.2 counter
	}
}
NFT
ip netns exec "$NODE" busybox nc -l -p 9000 >"$KVT_TMP/node-got" &
BG_PIDS+=($!)
kvt_wait_listen "$NODE" 9000
echo hello-from-guest | ip netns exec "$GUEST" busybox nc -w 3 10.244.1.1 9000
for i in $(seq 100); do [ -s "$KVT_TMP/node-got" ] && break; sleep 0.1; done
is "$(cat "$KVT_TMP/node-got")" hello-from-guest "guest's TCP connection reaches the node"
pkts() { # SOURCE-ADDRESS
	ip netns exec "$NODE" nft list chain ip kvtest input |
		sed -n "s/.*ip saddr $1 .*counter packets \([0-9]*\) .*/\1/p"
}
check "the node saw the pod IP as source" test "$(pkts 10.244.1.5)" -gt 0
is "$(pkts 10.0.2.2)" 0 "the node never saw 10.0.2.2"
check "guest pings the node" ip netns exec "$GUEST" busybox ping -c 2 -W 2 10.244.1.1

# Inbound: listed port 8080 reaches the guest; 8081 is not listed.
ip netns exec "$GUEST" busybox nc -l -p 8080 -e echo hello-from-vm &
BG_PIDS+=($!)
ip netns exec "$GUEST" busybox nc -l -p 8081 -e echo must-not-arrive &
BG_PIDS+=($!)
kvt_wait_listen "$GUEST" 8080
kvt_wait_listen "$GUEST" 8081
is "$(ip netns exec "$NODE" busybox nc -w 3 10.244.1.5 8080 </dev/null 2>/dev/null)" \
	hello-from-vm "listed TCP port 8080 on the pod IP reaches the guest"
is "$(ip netns exec "$NODE" busybox nc -w 3 10.244.1.5 8081 </dev/null 2>/dev/null)" "" \
	"unlisted port 8081 does not reach the guest"
# From inside the pod, 127.0.0.1 on a listed port is the guest too (route_localnet + snat).
ip netns exec "$GUEST" busybox nc -l -p 8080 -e echo hello-from-vm-local &
BG_PIDS+=($!)
kvt_wait_listen "$GUEST" 8080
is "$(ip netns exec "$POD" busybox nc -w 3 127.0.0.1 8080 </dev/null 2>/dev/null)" \
	hello-from-vm-local "127.0.0.1:8080 inside the pod reaches the guest"

kvt_kill_bg
kvt_stop_setup
tap_ok $? "kvirt-netsetup exits 0 on SIGTERM"
sed 's/^/# /' "$KVT_TMP/setup.out"
kvt_snapshot after
kvt_same before after "pod namespace restored: no nft table, no bridge, ip_forward back"

# All ports: with no --port, any TCP port reaches the guest.
kvt_start_setup --binding masquerade --guest-link vg0 --resolv "$KVT_TMP/resolv.conf" \
	--mac "$GUEST_MAC"
tap_ok $? "masquerade without ports sets up"
ip netns exec "$GUEST" busybox nc -l -p 8082 -e echo any-port &
BG_PIDS+=($!)
kvt_wait_listen "$GUEST" 8082
is "$(ip netns exec "$NODE" busybox nc -w 3 10.244.1.5 8082 </dev/null 2>/dev/null)" any-port \
	"without ports every port is forwarded"
kvt_stop_setup
tap_ok $? "second run exits 0 on SIGTERM"
kvt_snapshot after2
kvt_same before after2 "pod namespace restored after the all-ports run"
tap_finish
