# kvirt-vmm machine check: the vCPU count and usable memory the guest sees
# match what the VMM was asked for.  Expectations come from the kernel
# command line: kvirt.expect_cpus=N kvirt.expect_mem_kib_min=K
# (and kvirt.expect_high_mem=1: RAM above 4 GiB must be in the e820 map).
want_cpus= want_kib= want_high=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	kvirt.expect_cpus=*) want_cpus=${arg#*=} ;;
	kvirt.expect_mem_kib_min=*) want_kib=${arg#*=} ;;
	kvirt.expect_high_mem=*) want_high=${arg#*=} ;;
	esac
done
cpus=$(nproc)
kib=$(awk '/MemTotal/{print $2}' /proc/meminfo)
high=$(grep -c '^1[0-9a-f]\{8\}-.*System RAM' /proc/iomem)
echo "cpus=$cpus mem_kib=$kib high_ram_ranges=$high"
[ -z "$want_cpus" ] || [ "$cpus" = "$want_cpus" ] || { echo "expected $want_cpus cpus, got $cpus"; exit 1; }
[ -z "$want_kib" ] || [ "$kib" -ge "$want_kib" ] || { echo "expected MemTotal >= $want_kib kB, got $kib"; exit 1; }
[ "$want_high" != 1 ] || [ "$high" -ge 1 ] || { echo "expected System RAM above 4 GiB in /proc/iomem"; exit 1; }
echo "cpus=$cpus mem_kib=$kib high_ram_ranges=$high ok"
