#!/bin/bash
# Bridge binding end to end: the guest stand-in gets exactly the pod's
# address, gateway, DNS, MTU and routes from our DHCP server, talks to the
# node, and after SIGTERM the pod namespace is exactly as before.
. "$(dirname "$0")/lib.sh"
kvt_require

kvt_make_pod || { tap_ok 1 "build the pod fixture"; tap_finish; exit 1; }
kvt_snapshot before

kvt_start_setup --binding bridge --guest-link vg0 --resolv "$KVT_TMP/resolv.conf" \
	--hostname vm1
tap_ok $? "kvirt-netsetup sets the bridge binding up"
is "$GUEST_MAC" "$POD_MAC" "the guest gets the pod's MAC"

# The pod side while bound: no IPv4 on eth0, eth0 in the bridge with a new MAC.
is "$(ip -n "$POD" -j -4 addr show eth0 | jq -r '.[0].addr_info | length')" 0 \
	"eth0 has no IPv4 address while bound"
is "$(ip -n "$POD" -j link show eth0 | jq -r '.[0].master')" k6t-eth0 "eth0 is a port of k6t-eth0"
check "eth0 has a different MAC while bound" \
	test "$(ip -n "$POD" -j link show eth0 | jq -r '.[0].address')" != "$POD_MAC"
is "$(ip -n "$POD" -j link show k6t-eth0 | jq -r '.[0].mtu')" 1400 "bridge MTU is the pod MTU"

kvt_guest_dhcp "$GUEST_MAC"
tap_ok $? "udhcpc in the guest gets a lease"
sed 's/^/# lease: /' "$KVT_TMP/lease" 2>/dev/null
is "$(kvt_lease ip)" 10.244.1.5 "guest address is the pod IP"
is "$(kvt_lease subnet)" 255.255.255.0 "subnet mask"
is "$(kvt_lease router)" 10.244.1.1 "gateway"
is "$(kvt_lease dns)" 10.96.0.10 "DNS server from resolv.conf"
is "$(kvt_lease search)" "default.svc.cluster.local svc.cluster.local cluster.local" \
	"search domains (option 119)"
is "$(kvt_lease domain)" default.svc.cluster.local "domain name (option 15)"
is "$(kvt_lease mtu)" 1400 "MTU (option 26)"
is "$(kvt_lease hostname)" vm1 "hostname (option 12)"
is "$(kvt_lease staticroutes)" \
	"192.168.50.0/24 0.0.0.0 0.0.0.0/0 10.244.1.1 10.96.0.0/12 10.244.1.1" \
	"classless static routes (option 121): on-link first, default included"
is "$(kvt_lease lease)" 86313600 "lease time: 999 days"

check "guest pings the node (10.244.1.1)" ip netns exec "$GUEST" busybox ping -c 2 -W 2 10.244.1.1
check "node pings the guest at the pod IP" ip netns exec "$NODE" busybox ping -c 2 -W 2 10.244.1.5
# Only the guest can have answered: the pod has no IPv4 address now.
is "$(ip -n "$NODE" -j neigh show 10.244.1.5 | jq -r '.[0].lladdr')" "$POD_MAC" \
	"the node reaches 10.244.1.5 at the pod's original MAC (the guest)"

# Hostile input reaches the server and is counted, not answered.  python3 is
# the only test tool here that can send a broadcast UDP datagram.
ip netns exec "$GUEST" python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("10.244.1.5", 68))
hdr = bytes([1, 1, 6, 0]) + bytes(232)
cookie = bytes([99, 130, 83, 99])
for p in (hdr[:100],                                   # truncated
          hdr + bytes([99, 130, 83, 98, 53, 1, 1, 255]),  # wrong magic
          hdr + cookie + bytes([12, 2]) + b"vm" + bytes([255]),  # no message type
          hdr + cookie + bytes([53, 1, 1, 12, 90]) + b"x"):     # option overrun
    s.sendto(p, ("10.244.1.255", 67))
PY
sleep 0.5

# A DHCP client with another MAC gets nothing.
kvt_guest_dhcp 02:aa:bb:cc:dd:ee
tap_ok $((!$?)) "a client with another MAC gets no lease"
ip -n "$GUEST" link set eth0 address "$GUEST_MAC"

kvt_stop_setup
tap_ok $? "kvirt-netsetup exits 0 on SIGTERM"
sed 's/^/# /' "$KVT_TMP/setup.out"
is "$(kvt_stat dropped)" 4 "four malformed messages dropped and counted"
is "$(kvt_stat offers)" 1 "one OFFER"
is "$(kvt_stat acks)" 1 "one ACK"
check "the other MAC was counted" test "$(kvt_stat other_client)" -ge 1

kvt_snapshot after
kvt_same before after "pod namespace restored: addresses, routes, MACs, links, no bridge"
check "no k6t-eth0 left" bash -c "! ip -n $POD link show k6t-eth0"
tap_finish
