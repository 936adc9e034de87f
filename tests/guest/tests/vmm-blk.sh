# kvirt-vmm virtio-blk check (driven by tests/vm/vmm-blk-inner.sh):
#   /dev/vda: scratch disk, /dev/vdb: read-only disk with serial "kvirt-ro".
# Writes a pattern to vda with O_DIRECT (0..4M) and buffered (4M..8M), syncs,
# reads it back with O_DIRECT and prints md5 of vda's first 8 MiB (the host
# compares it with the image) and md5 of vdb's first 4 MiB.
fail() { echo "FAIL: $*"; exit 1; }
[ -b /dev/vda ] || fail "no /dev/vda ($(ls /sys/block | tr '\n' ' '))"
[ -b /dev/vdb ] || fail "no /dev/vdb"
drv=$(basename "$(readlink /sys/block/vda/device/driver)")
bus=$(basename "$(readlink /sys/block/vda/device/../driver)")
[ "$bus" = virtio-pci ] || fail "vda's transport driver is '$bus', want virtio-pci"
nq=$(ls /sys/block/vda/mq | wc -l)
[ "$nq" = "$(nproc)" ] || fail "vda has $nq queues, want one per vCPU ($(nproc))"
grep -q 'PCI-MSI.*virtio0-req.0' /proc/interrupts || fail "no PCI-MSI virtio0-req.0 in /proc/interrupts"
[ "$(cat /sys/block/vdb/ro)" = 1 ] || fail "vdb is not read-only"
[ "$(cat /sys/block/vdb/serial 2>/dev/null)" = kvirt-ro ] || fail "vdb serial '$(cat /sys/block/vdb/serial 2>/dev/null)'"
yes kvirt-blk-pattern-0123456789abcdef | head -c 4194304 >/tmp/p
dd if=/tmp/p of=/dev/vda bs=64k oflag=direct conv=fsync 2>/dev/null || fail "O_DIRECT write"
dd if=/tmp/p of=/dev/vda bs=4k seek=1024 2>/dev/null || fail "buffered write"
sync
echo 3 >/proc/sys/vm/drop_caches
want=$(cat /tmp/p /tmp/p | md5sum | cut -d' ' -f1)
got=$(dd if=/dev/vda bs=1M count=8 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "read back $got, wrote $want"
if dd if=/tmp/p of=/dev/vdb bs=4k count=1 oflag=direct 2>/dev/null; then
	fail "a write to read-only vdb succeeded"
fi
ro=$(dd if=/dev/vdb bs=1M count=4 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
irq=$(grep -c 'PCI-MSI.*virtio0-req' /proc/interrupts)
# MQ: reads issued from each vCPU go through that vCPU's queue, so with more
# than one queue more than one request vector must have fired.
if [ "$nq" -gt 1 ]; then
	for c in $(seq 0 $(($(nproc) - 1))); do
		taskset -c "$c" dd if=/dev/vda of=/dev/null bs=4k count=64 skip=$((c * 64)) iflag=direct 2>/dev/null ||
			fail "O_DIRECT read on vCPU $c"
	done
fi
# Sum each virtio0-req vector's per-CPU counts; list "name=count".
counts=$(grep 'PCI-MSI.*virtio0-req' /proc/interrupts | while read -r _ rest; do
	s=0
	for f in $rest; do
		case "$f" in *[!0-9]*) break ;; esac
		s=$((s + f))
	done
	echo "${rest##* }=$s"
done | tr '\n' ' ')
fired=$(echo "$counts" | tr ' ' '\n' | grep -c '=[1-9]')
[ "$fired" -ge 1 ] || fail "no virtio0-req vector fired: $counts"
[ "$nq" = 1 ] || [ "$fired" -gt 1 ] || fail "$nq queues but only one request vector fired: $counts"
echo "irqs: $counts"
echo "queues=$nq msix_req_vectors=$irq fired_vectors=$fired vda_md5=$got vdb_md5=$ro"
