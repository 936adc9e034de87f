# Default guest test: report what the guest sees of its machine.
cpus=$(nproc)
mem_kib=$(awk '/MemTotal/{print $2}' /proc/meminfo)
echo "cpus=$cpus mem_kib=$mem_kib kernel=$(uname -r)"
