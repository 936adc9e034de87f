# kvirt-vmm machine check: the vCPU count and usable memory the guest sees
# match what the VMM was asked for.  Expectations come from the kernel
# command line: kvirt.expect_cpus=N kvirt.expect_mem_kib_min=K
# (and kvirt.expect_high_mem=1: RAM above 4 GiB must be in the e820 map;
# kvirt.expect_topology=S:C:T: sockets, cores per socket, threads per core
# as the guest kernel's sysfs topology sees them).
want_cpus= want_kib= want_high= want_topo=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	kvirt.expect_cpus=*) want_cpus=${arg#*=} ;;
	kvirt.expect_mem_kib_min=*) want_kib=${arg#*=} ;;
	kvirt.expect_high_mem=*) want_high=${arg#*=} ;;
	kvirt.expect_topology=*) want_topo=${arg#*=} ;;
	esac
done
cpus=$(nproc)
kib=$(awk '/MemTotal/{print $2}' /proc/meminfo)
high=$(grep -c '^1[0-9a-f]\{8\}-.*System RAM' /proc/iomem)
t=/sys/devices/system/cpu
sockets=$(cat $t/cpu*/topology/physical_package_id | sort -u | wc -l)
cores=$(for c in $t/cpu*/topology; do [ "$(cat $c/physical_package_id)" = 0 ] && cat $c/core_id; done | sort -u | wc -l)
threads=$(cat $t/cpu0/topology/thread_siblings_list | tr ',' '\n' | awk -F- '{ n += NF == 2 ? $2 - $1 + 1 : 1 } END { print n }')
topo=$sockets:$cores:$threads
echo "cpus=$cpus topology=$topo mem_kib=$kib high_ram_ranges=$high"
# An AMD CPU model without TOPOEXT has no way to describe SMT (Linux then
# derives cores from CPUID 0x80000008 alone), so each thread shows up as a
# core there; QEMU's guests behave the same.
if [ -n "$want_topo" ] && grep -q AuthenticAMD /proc/cpuinfo && ! grep -qw topoext /proc/cpuinfo; then
	ws=${want_topo%%:*} wt=${want_topo##*:} wc=${want_topo#*:}
	wc=${wc%:*}
	want_topo=$ws:$((wc * wt)):1
	echo "AMD without topoext: threads count as cores, expecting $want_topo"
fi
[ -z "$want_topo" ] || [ "$topo" = "$want_topo" ] || { echo "expected topology $want_topo, got $topo"; exit 1; }
[ -z "$want_cpus" ] || [ "$cpus" = "$want_cpus" ] || { echo "expected $want_cpus cpus, got $cpus"; exit 1; }
[ -z "$want_kib" ] || [ "$kib" -ge "$want_kib" ] || { echo "expected MemTotal >= $want_kib kB, got $kib"; exit 1; }
[ "$want_high" != 1 ] || [ "$high" -ge 1 ] || { echo "expected System RAM above 4 GiB in /proc/iomem"; exit 1; }
echo "cpus=$cpus topology=$topo mem_kib=$kib high_ram_ranges=$high ok"
