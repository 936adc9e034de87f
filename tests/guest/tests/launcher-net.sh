# kvirt-launcher pod network guest (tests/vm/launcher-net-inner.sh): DHCP
# with busybox udhcpc on eth0, then checks what it got.  Parameters on the
# kernel command line:
#   kvirt.net_mode=bridge|masquerade
#   kvirt.net_ip / net_mask / net_gw / net_dns / net_mtu / net_mac  expected lease, MAC
#   kvirt.net_node=IP   the node side: pinged; masquerade: nc to port 7000
#   kvirt.net_queues=N  rx queues eth0 must have
# bridge: prints "KVIRT-NET up" and waits for 3 echo requests (the node
# pings the pod IP).  masquerade: reads "from-node" from NODE:7000, prints
# "KVIRT-NET listening" and answers one connection on port 8080.
fail() { echo "FAIL: $*"; exit 1; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^kvirt\.$1=//p"; }
mode=$(arg net_mode) want_ip=$(arg net_ip) want_mask=$(arg net_mask) want_gw=$(arg net_gw)
want_dns=$(arg net_dns) want_mtu=$(arg net_mtu) want_mac=$(arg net_mac) node=$(arg net_node)
want_q=$(arg net_queues)

[ -d /sys/class/net/eth0 ] || fail "no eth0 ($(ls /sys/class/net | tr '\n' ' '))"
mac=$(cat /sys/class/net/eth0/address)
[ -z "$want_mac" ] || [ "$mac" = "$want_mac" ] || fail "eth0 MAC $mac, want $want_mac"
nq=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)
[ "$nq" = "${want_q:-1}" ] || fail "eth0 has $nq rx queues, want ${want_q:-1}"
cat >/tmp/dhcp.sh <<'SCRIPT'
#!/bin/sh
case "$1" in bound|renew) ;; *) exit 0 ;; esac
mkdir -p /tmp/lease
for v in ip mask router dns mtu hostname search staticroutes; do eval "echo \"\$$v\"" >/tmp/lease/$v; done
[ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
ip addr add "$ip/$mask" dev "$interface"
ip route add default via "$router" dev "$interface"
exit 0
SCRIPT
chmod 755 /tmp/dhcp.sh
ip link set lo up
ip link set eth0 up || fail "link up"
udhcpc -i eth0 -s /tmp/dhcp.sh -n -q -t 20 -T 3 -O mtu -O staticroutes -O search >/tmp/udhcpc.txt 2>&1 ||
	fail "udhcpc: $(tail -n2 /tmp/udhcpc.txt | tr '\n' ' ')"
for v in ip mask router dns mtu hostname search staticroutes; do
	eval "got_$v=\"\$(cat /tmp/lease/$v)\""
	echo "lease $v=$(cat /tmp/lease/$v)"
done
[ "$got_ip" = "$want_ip" ] || fail "ip $got_ip, want $want_ip"
[ "$got_mask" = "$want_mask" ] || fail "mask $got_mask, want $want_mask"
[ "$got_router" = "$want_gw" ] || fail "router $got_router, want $want_gw"
[ "$got_dns" = "$want_dns" ] || fail "dns $got_dns, want $want_dns"
[ "$got_mtu" = "$want_mtu" ] || fail "mtu $got_mtu, want $want_mtu"
[ "$(cat /sys/class/net/eth0/mtu)" = "$want_mtu" ] || fail "eth0 mtu $(cat /sys/class/net/eth0/mtu)"
ping -c 3 -W 5 "$node" >/tmp/ping.txt 2>&1 || fail "ping $node: $(tail -n2 /tmp/ping.txt | tr '\n' ' ')"

if [ "$mode" = bridge ]; then
	echo "KVIRT-NET up"
	i=0
	while :; do
		echos=$(awk '/^Icmp:/ { if (h) { print $(f) } else { for (k = 1; k <= NF; k++) if ($k == "InEchos") f = k; h = 1 } }' /proc/net/snmp)
		[ "${echos:-0}" -ge 3 ] && break
		i=$((i + 1))
		[ $i -lt 240 ] || fail "node->guest ping: $echos echo requests seen"
		sleep 0.5
	done
	echo "bridge ip=$got_ip/$got_mask gw=$got_router dns=$got_dns mtu=$got_mtu mac=$mac node_echos=$echos"
	exit 0
fi

got=$(nc -w 10 "$node" 7000 </dev/null) || fail "nc $node:7000 failed"
[ "$got" = from-node ] || fail "nc $node:7000 read '$got'"
nc -l -p 8080 -e echo from-guest &
ncpid=$!
sleep 0.3
echo "KVIRT-NET listening"
i=0
while kill -0 $ncpid 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 240 ] || fail "no connection to port 8080"
	sleep 0.5
done
echo "masquerade ip=$got_ip/$got_mask gw=$got_router dns=$got_dns mtu=$got_mtu queues=$nq node=from-node port8080=served"
