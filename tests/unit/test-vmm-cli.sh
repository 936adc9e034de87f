#!/bin/bash
# kvirt-vmm rejects bad configurations with a specific message naming the
# field, exits non-zero, and starts nothing: the error comes before /dev/kvm
# is opened (no KVM message) and no console socket is created.
set -uo pipefail
vmm=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
kernel=$tmp/vmlinuz
# A file that passes the path checks but is not a bzImage.
head -c 8192 /dev/zero >"$kernel"

check() { # check "what" "expected message" args...
	local what=$1 want=$2
	shift 2
	n=$((n + 1))
	local out rc
	out=$("$vmm" "$@" 2>&1 </dev/null)
	rc=$?
	if [ $rc = 0 ] || ! grep -qF -- "$want" <<<"$out" || grep -qi 'kvm' <<<"$out" ||
		[ -e "$tmp/console.sock" ]; then
		failed=$((failed + 1))
		echo "not ok $n - $what"
		echo "#   exit $rc, want non-zero with: $want"
		sed 's/^/#   /' <<<"$out"
	else
		echo "ok $n - $what: $(head -n1 <<<"$out")"
	fi
}

check "no kernel" "kernel: required"
check "missing kernel file" "kernel: cannot open /nonexistent" --kernel /nonexistent
check "kernel is not a bzImage" "kernel: not a bzImage" --kernel "$kernel" --serial "unix:$tmp/console.sock"
check "bad memory size" 'memory: "lots"' --kernel "$kernel" --memory lots
check "memory too small" "memory: must be between" --kernel "$kernel" --memory 1M
check "too many cpus" "cpus: must be between" --kernel "$kernel" --cpus 1000 --serial "unix:$tmp/console.sock"
check "zero cpus" "cpus: must be between" --kernel "$kernel" --cpus 0
check "topology disagrees with cpus" "cpus: 4 vCPUs but sockets 2 × cores 3 × threads 1 = 6" --kernel "$kernel" --cpus 4,sockets=2,cores=3
check "unknown topology key" 'cpus: unknown key "dies"' --kernel "$kernel" --cpus 4,dies=2
check "zero sockets" 'cpus: sockets: "0" is not a count' --kernel "$kernel" --cpus sockets=0
check "topology product too big" "= 128 vCPUs; must be between 1 and 64" --kernel "$kernel" --cpus sockets=16,cores=8
check "bad on_reboot" 'on_reboot: "again" is not one of exit, restart' --kernel "$kernel" --on-reboot again
check "bad serial" 'serial: "pty"' --kernel "$kernel" --serial pty
check "missing initrd" "initrd: cannot open" --kernel "$kernel" --initrd /nonexistent
check "bad --seccomp" '--seccomp: "maybe" is not on or off' --kernel "$kernel" --seccomp maybe
check "bad --uid" '--uid: "nobody" is not a valid value' --kernel "$kernel" --uid nobody
check "bad --jail-nofile" '--jail-nofile: "0" is not a valid value' --kernel "$kernel" --jail-nofile 0
check "disk without path" "disk 0: path: required" --kernel "$kernel" --disk readonly=on
check "missing disk image" "disk 0: path: cannot stat /nonexistent.img" --kernel "$kernel" --disk path=/nonexistent.img
check "bad disk cache" 'disk 0: cache: "unsafe"' --kernel "$kernel" --disk "path=$kernel,cache=unsafe"
check "bad disk coalesce" 'disk coalesce: "maybe"' --kernel "$kernel" --disk "path=$kernel,coalesce=maybe"
check "bad disk queue size" "disk 1: queue_size" --kernel "$kernel" --disk "path=$kernel" --disk "path=$kernel,queue_size=3"
check "net without tap or fd" "net 0: give exactly one of tap=NAME or fd=N" --kernel "$kernel" --net mtu=1500
check "net with tap and fd" "net 0: give exactly one" --kernel "$kernel" --net tap=t0,fd=3
check "bad net mac" 'net 0: mac: "01:00:5e:00:00:01" is not a unicast MAC' --kernel "$kernel" --net tap=t0,mac=01:00:5e:00:00:01
check "bad net mtu" 'net 0: mtu: "10"' --kernel "$kernel" --net tap=t0,mtu=10
check "too many net queues" 'net 0: queues: "9"' --kernel "$kernel" --net tap=t0,queues=9
check "net fd not open" "net 0: fd 987 is not open" --kernel "$kernel" --net fd=987
check "net fds and queues disagree" "net 0: queues=3 but 2 fd(s)" --kernel "$kernel" --net fd=3:4,queues=3
check "cmdline too long" "cmdline:" --kernel "$kernel" --cmdline "$(head -c 5000 /dev/zero | tr '\0' x)"
check "unknown flag" "usage:" --kernel "$kernel" --frobnicate
check "stray argument" 'unexpected argument "extra"' --kernel "$kernel" extra
echo '{"kernel": "/nonexistent", "cpus": 2,}' >"$tmp/bad.json"
check "invalid JSON config" "invalid JSON at line 1" --config "$tmp/bad.json"
echo '{"kernal": "/x"}' >"$tmp/typo.json"
check "unknown JSON field" 'unknown field "kernal"' --config "$tmp/typo.json"
check "missing config file" "config: cannot read $tmp/none.json" --config "$tmp/none.json"
echo "{\"kernel\": \"$kernel\", \"cpus\": 3, \"topology\": {\"sockets\": 2, \"cores\": 2}}" >"$tmp/topo.json"
check "JSON topology disagrees with cpus" "cpus: 3 vCPUs but sockets 2 × cores 2 × threads 1 = 4" --config "$tmp/topo.json"
echo "{\"kernel\": \"$kernel\", \"topology\": {\"dies\": 2}}" >"$tmp/topo2.json"
check "unknown JSON topology field" 'unknown field "dies"' --config "$tmp/topo2.json"
echo "{\"kernel\": \"$kernel\", \"memory\": \"64M\"}" >"$tmp/ok.json"
check "flags override the config file" "cpus: must be between" --cpus 99 --config "$tmp/ok.json"
check "api is not a unix socket" 'api: "tcp:1" is not unix:PATH' --kernel "$kernel" --api tcp:1
check "api socket path too long" "api: unix socket path is longer" --kernel "$kernel" --api "unix:/$(head -c 200 /dev/zero | tr "\\0" a)"
echo "1..$n"
[ $failed = 0 ]
