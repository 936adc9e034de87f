# kvirt-launcher disks check (driven by tests/vm/launcher-inner.sh).  The VMI
# has: vda = containerDisk (qcow2 on the host), vdb = emptyDisk, vdc =
# cloudInitNoCloud.  Expected values come on the kernel command line:
#   kvirt.cd_md5=  md5 of the containerDisk's first kvirt.cd_mib MiB
#   kvirt.empty_bytes=  the emptyDisk capacity in bytes
#   kvirt.ud_md5=  md5 of the user-data the YAML holds
fail() { echo "FAIL: $*"; exit 1; }
for a in $(cat /proc/cmdline); do
	case "$a" in
	kvirt.cd_md5=*) cd_md5=${a#*=} ;;
	kvirt.cd_mib=*) cd_mib=${a#*=} ;;
	kvirt.empty_bytes=*) empty_bytes=${a#*=} ;;
	kvirt.ud_md5=*) ud_md5=${a#*=} ;;
	esac
done
for d in vda vdb vdc; do
	[ -b /dev/$d ] || fail "no /dev/$d ($(ls /sys/block | tr '\n' ' '))"
done
got=$(dd if=/dev/vda bs=1M count="$cd_mib" 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$cd_md5" ] || fail "containerDisk reads $got, the image has $cd_md5"
size=$(( $(cat /sys/block/vdb/size) * 512 ))
[ "$size" = "$empty_bytes" ] || fail "emptyDisk is $size bytes, want $empty_bytes"
[ "$(cat /sys/block/vdc/ro)" = 1 ] || fail "the cloud-init disk is not read-only"
mkdir -p /mnt/ci
mount -t iso9660 -o ro /dev/vdc /mnt/ci || fail "cannot mount the cidata ISO"
# The volume id: primary volume descriptor (sector 16), bytes 40-71.
label=$(dd if=/dev/vdc bs=1 skip=32808 count=32 2>/dev/null | tr -d ' ')
[ "$label" = cidata ] || fail "ISO label '$label', want cidata"
ud=$(md5sum </mnt/ci/user-data | cut -d' ' -f1)
[ "$ud" = "$ud_md5" ] || fail "user-data md5 $ud, the YAML's is $ud_md5"
grep -q '^instance-id: ' /mnt/ci/meta-data || fail "meta-data has no instance-id"
host=$(sed -n 's/^local-hostname: //p' /mnt/ci/meta-data)
[ -n "$host" ] || fail "meta-data has no local-hostname"
echo "containerDisk_md5=$got emptyDisk_bytes=$size label=$label user-data_md5=$ud hostname=$host"
