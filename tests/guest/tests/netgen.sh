# netgen.sh BYTES: the deterministic stream the virtio-net tests move
# (tests/vm/vmm-net-inner.sh runs the same file on the host side): numbered
# lines with a period of 1000003 bytes, so a lost, repeated or misplaced
# page or segment changes the checksum.  Not a test of its own.
b=/tmp/netgen-block.$$
busybox seq 100000 250000 | head -c 1000003 >$b
n=$(($1 / 1000003 + 1)) i=0
{
	while [ $i -lt $n ]; do
		cat $b 2>/dev/null || break
		i=$((i + 1))
	done
} | head -c "$1"
rm -f $b
