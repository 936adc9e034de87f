# netgen.sh BYTES: the deterministic stream the virtio-net tests move
# (tests/vm/vmm-net-inner.sh runs the same file on the host side): a 16 MiB
# chunk of numbered lines with a period of 1000003 bytes, repeated, the last
# one cut at BYTES; a lost, repeated or misplaced page or segment changes
# the checksum.  One `cat` of all chunks (sendfile to the socket), because
# under nested TCG the generator must not be the bottleneck.  Not a test.
b=/tmp/netgen-block.$$ c=/tmp/netgen-chunk.$$ chunk=16777216
busybox seq 100000 250000 | head -c 1000003 >$b
i=0
while [ $i -lt 17 ]; do cat $b; i=$((i + 1)); done | head -c $chunk >$c
full=$(($1 / chunk)) rest=$(($1 % chunk))
set --
i=0
while [ $i -lt $full ]; do set -- "$@" $c; i=$((i + 1)); done
[ $# -gt 0 ] && cat "$@"
[ $rest -gt 0 ] && head -c $rest $c
rm -f $b $c
