# kvirt-vmm reboot in place (--on-reboot restart): the first boot leaves a
# mark on /dev/vda and reboots; the machine must come back on its own, and
# the second boot finds the mark through the reset virtio-blk device, with
# every vCPU back online (the APs restarted through INIT/SIPI again).
# kvirt.ping=HOST: eth0 gets 10.77.0.2/24 and must reach HOST on both
# boots (the virtio-net device, its tap queues and threads survive a reset).
want_cpus= ping_host=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	kvirt.expect_cpus=*) want_cpus=${arg#*=} ;;
	kvirt.ping=*) ping_host=${arg#*=} ;;
	esac
done
net_check() {
	[ -n "$ping_host" ] || return 0
	ip link set eth0 up && ip addr add 10.77.0.2/24 dev eth0 || { echo "$1: eth0 setup failed"; exit 1; }
	ping -c 3 -W 3 "$ping_host" >/dev/null || { echo "$1: no answer from $ping_host"; exit 1; }
	echo "$1: ping $ping_host ok"
}
dev=/dev/vda
[ -b $dev ] || { echo "no $dev"; exit 1; }
mark=$(dd if=$dev bs=12 count=1 2>/dev/null | tr -d '\000')
case "$mark" in
'')
	net_check "boot 1"
	echo "boot 1: marking $dev and rebooting"
	printf 'KVIRT-BOOT-1' | dd of=$dev bs=12 count=1 conv=notrunc 2>/dev/null
	sync
	reboot -f
	sleep 30
	echo "reboot -f returned"
	exit 1
	;;
KVIRT-BOOT-1)
	net_check "boot 2"
	cpus=$(nproc)
	[ -z "$want_cpus" ] || [ "$cpus" = "$want_cpus" ] || { echo "boot 2: expected $want_cpus cpus, got $cpus"; exit 1; }
	printf 'KVIRT-BOOT-2' | dd of=$dev bs=12 count=1 conv=notrunc 2>/dev/null
	sync
	echo "boot 2: found the first boot's mark, cpus=$cpus${ping_host:+, network ok}"
	;;
*)
	echo "unexpected mark '$mark' on $dev"
	exit 1
	;;
esac
