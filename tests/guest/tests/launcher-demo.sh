# The demo guest (manifests/examples/vmi-local.yaml, scripts/demo): show what
# kvirt-launcher made of the VMI — CPUs, memory, each virtio disk, and the
# cloud-init NoCloud disk's files.
echo "cpus=$(nproc) mem_kib=$(awk '/MemTotal/{print $2}' /proc/meminfo) kernel=$(uname -r)"
for b in /sys/block/vd*; do
	d=${b##*/}
	label=$(dd if=/dev/$d bs=1 skip=32808 count=32 2>/dev/null | tr -cd 'a-zA-Z0-9_-')
	echo "disk $d: $(( $(cat $b/size) / 2048 )) MiB ro=$(cat $b/ro)${label:+ iso9660 label=$label}"
	if [ "$label" = cidata ]; then
		mkdir -p /mnt/cidata && mount -t iso9660 -o ro /dev/$d /mnt/cidata &&
			for f in /mnt/cidata/*; do echo "--- ${f##*/}"; cat "$f"; done
	fi
done
echo "launcher-demo: $(ls -d /sys/block/vd* | wc -l) virtio disks, $(nproc) cpus"
