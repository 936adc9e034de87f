# Guest half of bench/net (bench/net-inner.sh runs the host half; host side
# of the tap is 10.77.0.1).  kvirt.net_bytes=N bytes each way.  Prints
# "rtt_avg_ms=.. rtt_min_ms=.. h2g_MiBps=.. h2g_s=.." (receiver-side times).
fail() { echo "FAIL: $*"; exit 1; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^kvirt\.$1=//p"; }
bytes=$(arg net_bytes)
hostip=10.77.0.1
now() { cut -d' ' -f1 /proc/uptime; }
ip link set eth0 up || fail "no eth0"
ip addr add 10.77.0.2/24 dev eth0
ping -c 2 -W 5 $hostip >/dev/null 2>&1 || fail "no reply from the host"
ping -c 20 -i 0.1 $hostip >/tmp/ping.txt 2>&1 || fail "ping: $(tail -n1 /tmp/ping.txt)"
rtt=$(sed -n 's|.*min/avg/max = \([0-9.]*\)/\([0-9.]*\)/.*|\2 \1|p' /tmp/ping.txt)
# guest -> host (the host times it).  One `cat` of a 16 MiB tmpfs file
# repeated (sendfile to the socket): the sender must cost the guest as
# little as possible, or the benchmark measures busybox, not the VMM.
dd if=/dev/zero of=/tmp/z bs=1M count=16 2>/dev/null
set --
i=0
while [ $i -lt $((bytes >> 24)) ]; do set -- "$@" /tmp/z; i=$((i + 1)); done
nc $hostip 5301 -e cat "$@" || fail "guest->host nc"
sleep 1
t0=$(now)
nc $hostip 5302 -e sh -c 'cat >/dev/null' || fail "host->guest nc"
t1=$(now)
s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "rtt_avg_ms=${rtt% *} rtt_min_ms=${rtt#* } h2g_s=$s h2g_MiBps=$(awk -v b="$bytes" -v s="$s" 'BEGIN { if (s <= 0) s = 0.01; printf "%.1f", b / s / 1048576 }')"
