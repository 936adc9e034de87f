# kvirt-vmm virtio-net check (driven by tests/vm/vmm-net-inner.sh; the host
# side of the tap is 10.77.0.1, the guest takes 10.77.0.2).  Parameters on
# the kernel command line:
#   kvirt.net_bytes=N  bytes to move each way (host sends netgen.sh N)
#   kvirt.net_sha=HEX  sha256 of that stream
#   kvirt.net_mtu=N    MTU the device must announce
#   kvirt.net_queues=N queue pairs the guest must see
#   kvirt.net_streams=N parallel TCP streams each way afterwards (multiqueue)
fail() { echo "FAIL: $*"; exit 1; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^kvirt\.$1=//p"; }
bytes=$(arg net_bytes) sha=$(arg net_sha) mtu=$(arg net_mtu) queues=$(arg net_queues)
streams=$(arg net_streams)
hostip=10.77.0.1
now() { cut -d' ' -f1 /proc/uptime; }
rate() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { d = t1 - t0; if (d <= 0) d = 0.01; printf "%.1f", b / d / 1048576 }'; }

[ -d /sys/class/net/eth0 ] || fail "no eth0 ($(ls /sys/class/net | tr '\n' ' '))"
drv=$(basename "$(readlink /sys/class/net/eth0/device/driver)")
[ "$drv" = virtio_net ] || fail "eth0 driver is '$drv'"
[ "$(cat /sys/class/net/eth0/mtu)" = "$mtu" ] || fail "eth0 mtu $(cat /sys/class/net/eth0/mtu), want $mtu"
nq=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)
[ "$nq" = "$queues" ] || fail "eth0 has $nq rx queues, want $queues"
ip link set eth0 up || fail "link up"
ip addr add 10.77.0.2/24 dev eth0 || fail "address"
ping -c 3 -W 5 $hostip >/tmp/ping.txt 2>&1 || fail "ping guest->host: $(tail -n2 /tmp/ping.txt | tr '\n' ' ')"
if [ "$mtu" -ge 9000 ]; then
	# A 9000-byte IP packet, not fragmented: both ends have MTU 9000.
	ping -c 2 -W 5 -s 8972 $hostip >/tmp/ping.txt 2>&1 || fail "jumbo ping: $(tail -n2 /tmp/ping.txt | tr '\n' ' ')"
fi
echo "KVIRT-NET up"
# The host pings us now; wait for its echo requests.
i=0
while :; do
	echos=$(awk '/^Icmp:/ { if (h) { print $(f) } else { for (k = 1; k <= NF; k++) if ($k == "InEchos") f = k; h = 1 } }' /proc/net/snmp)
	[ "${echos:-0}" -ge 3 ] && break
	i=$((i + 1))
	[ $i -lt 120 ] || fail "host->guest ping: $echos echo requests seen"
	sleep 0.5
done

t0=$(now)
nc $hostip 5001 -e sh -c 'sha256sum >/tmp/h2g.sum' || fail "host->guest: nc"
t1=$(now)
got=$(cut -d' ' -f1 /tmp/h2g.sum)
[ "$got" = "$sha" ] || fail "host->guest: sha256 $got, want $sha"
nc $hostip 5002 -e sh /tests/netgen.sh "$bytes" || fail "guest->host: nc"
t2=$(now)

extra=
if [ "${streams:-0}" -gt 0 ]; then
	per=$((32 << 20))
	p=0
	while [ $p -lt "$streams" ]; do
		nc $hostip $((5100 + p)) -e sh -c 'cat >/dev/null' &
		nc $hostip $((5200 + p)) -e sh -c "head -c $per /dev/zero" &
		p=$((p + 1))
	done
	wait
	irq() { awk -v pat="virtio[0-9]*-$1\\\\.$2\$" '$NF ~ pat { s = 0; for (k = 2; k < NF; k++) if ($k ~ /^[0-9]+$/) s += $k; print s }' /proc/interrupts; }
	rx= tx= busy=0 q=0
	while [ $q -lt "$nq" ]; do
		r=$(irq input $q) t=$(irq output $q)
		rx="$rx${rx:+,}${r:-0}" tx="$tx${tx:+,}${t:-0}"
		[ "${r:-0}" -gt 20 ] && busy=$((busy + 1))
		q=$((q + 1))
	done
	[ "$nq" -lt 2 ] || [ $busy -ge 2 ] || fail "traffic on $busy rx queue(s) only: input irqs $rx"
	extra=" streams=$streams rx_queue_irqs=$rx tx_queue_irqs=$tx busy_rx_queues=$busy"
fi
echo "queues=$nq mtu=$mtu h2g_sha=$got h2g_MiBps=$(rate "$bytes" "$t0" "$t1") g2h_MiBps=$(rate "$bytes" "$t1" "$t2")$extra"
