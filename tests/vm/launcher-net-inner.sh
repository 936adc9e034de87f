#!/bin/bash
# Runs inside tests/kvmhost: kvirt-launcher pod network cases (see launcher-net.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/vmm-cases.sh" "$@"
: "${KVIRT_GUEST_DIR:?}"
launcher=$(command -v kvirt-launcher) || { echo "1..0 # SKIP kvirt-launcher not built"; exit 77; }
command -v nft >/dev/null || { echo "1..0 # SKIP nft missing (scripts/deps.sh)"; exit 77; }
work=/tmp/launcher-net
rm -rf "$work" && mkdir -p "$work"
pod_ip=10.244.0.5 node_ip=10.244.0.1 dns=10.96.0.10 mtu=1400
bg=()
cleanup() {
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
	ip netns del pod 2>/dev/null
	ip netns del node 2>/dev/null
}
trap cleanup EXIT

# The pod: eth0 = veth end with address, default route, MTU; the node: the peer.
ip netns add pod && ip netns add node || { echo "Bail out! ip netns add"; exit 1; }
ip netns exec pod sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link add eth0 netns pod mtu $mtu type veth peer name veth-pod netns node mtu $mtu &&
	ip -n pod link set lo up && ip -n node link set lo up &&
	ip -n node addr add $node_ip/24 dev veth-pod && ip -n node link set veth-pod up &&
	ip -n pod addr add $pod_ip/24 dev eth0 && ip -n pod link set eth0 up &&
	ip -n pod route add default via $node_ip ||
	{ echo "Bail out! building the pod network"; exit 1; }
printf 'nameserver %s\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' $dns >"$work/resolv.conf"
pod_mac=$(ip -n pod -j link show eth0 | jq -r '.[0].address')
# The node counts what reaches it from the pod IP and from the guest's own address.
ip netns exec node nft -f - <<NFT || { echo "Bail out! node nft counters"; exit 1; }
table ip nodecount {
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr $pod_ip tcp dport 7000 counter
		ip saddr 10.0.2.0/24 counter
	}
}
NFT
counter() { # counter N: packets of the N-th rule of the node's input chain
	ip netns exec node nft -j list chain ip nodecount input |
		jq "[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets][$1]"
}
snap() {
	# Carrier is asynchronous (veth: both ends up; after the undo's down/up
	# it comes back a moment later): let eth0 settle, up to 5 s, so the
	# snapshot compares configuration, not timing.
	local i
	for i in $(seq 1 50); do
		[ "$(ip -n pod -j link show eth0 | jq -r '.[0].operstate')" = UP ] && break
		sleep 0.1
	done
	ip netns exec pod sh -c 'ip -d addr; ip -d link; ip route show table all; nft list ruleset;
		echo ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)' 2>&1
}
snap >"$work/before.txt"

# vmi NAME BINDING-YAML CORES MULTIQUEUE KERNEL-ARGS
vmi() {
	cat >"$work/$1.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: $1}
spec:
  terminationGracePeriodSeconds: 3
  domain:
    cpu: {cores: $3}
    memory: {guest: 160Mi}
    firmware:
      kernelBoot:
        kernelArgs: "$5"
        container:
          image: $KVIRT_GUEST_DIR
          kernelPath: vmlinuz
          initrdPath: initramfs.cpio.gz
    devices:
      networkInterfaceMultiqueue: $4
      interfaces:
        - name: default
$2
  networks:
    - name: default
      pod: {}
YAML
}
# In the pod: its own resolv.conf (ip netns exec gives a private mount namespace).
in_pod() {
	ip netns exec pod sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$work/resolv.conf" "$@"
}
# restored CASE: the pod namespace is exactly as before the launcher ran.
restored() {
	snap >"$work/after-$1.txt"
	if diff -u "$work/before.txt" "$work/after-$1.txt" >"$work/diff-$1.txt"; then
		ok "$1: pod namespace restored (addr, link, routes, nft ruleset, ip_forward identical)"
	else
		not_ok "$1: pod namespace not restored" "$(head -c 1500 "$work/diff-$1.txt" | tr '\n' '|')"
	fi
}
netargs() { # netargs MODE IP GW
	echo "$base kvirt.test=launcher-net kvirt.net_mode=$1 kvirt.net_ip=$2 kvirt.net_mask=24 kvirt.net_gw=$3 kvirt.net_dns=$dns kvirt.net_mtu=$mtu kvirt.net_node=$node_ip"
}

# ---- bridge: the guest is the pod --------------------------------------------
if want bridge; then
	log=$logdir/launcher-net-bridge.log
	vmi bridge "          bridge: {}" 1 false "$(netargs bridge $pod_ip $node_ip) kvirt.net_mac=$pod_mac kvirt.net_queues=1"
	rm -f "$work/ping.txt" "$work/status.json"
	: >"$log"
	(
		kv_wait_for "$log" '^KVIRT-NET up' 600 || exit 0
		"$launcher" ctl "$work/run-bridge/control.sock" status >"$work/status.json" 2>&1
		ip netns exec node busybox ping -c 3 -W 5 $pod_ip >"$work/ping.txt" 2>&1
		echo "rc=$?" >>"$work/ping.txt"
	) &
	bg+=($!)
	kv_vm_run 600 "$log" -- in_pod "$launcher" run --network pod --vmm "$vmm" --run-dir "$work/run-bridge" "$work/bridge.yaml"
	status=$(kv_result_field "$KV_VM_RESULT" status)
	detail=$(kv_result_field "$KV_VM_RESULT" detail)
	if [ "$status" = pass ] && [ "$KV_VM_RC" = 0 ]; then
		ok "bridge: guest DHCP lease = pod address/gateway/DNS/MTU/MAC, pings node, node pings it: $detail"
	else
		not_ok "bridge: guest" "result '${KV_VM_RESULT:-none}', launcher exit ${KV_VM_RC:-?}" "$log"
	fi
	if grep -q 'rc=0' "$work/ping.txt" 2>/dev/null; then
		ok "bridge: node -> $pod_ip ping: $(grep -o '[0-9]* packets received' "$work/ping.txt")"
	else
		not_ok "bridge: node -> guest ping" "$(tr '\n' '|' <"$work/ping.txt" 2>/dev/null)"
	fi
	if jq -e --arg mac "$pod_mac" --arg ip $pod_ip '.interfaces == [{"name":"default","mac":$mac,"binding":"bridge","ipAddress":$ip,"queues":1}]' \
		"$work/status.json" >/dev/null 2>&1; then
		ok "bridge: status.interfaces $(jq -c .interfaces "$work/status.json")"
	else
		not_ok "bridge: status.interfaces" "got: $(cat "$work/status.json" 2>/dev/null)"
	fi
	grep -a 'kvirt-launcher.*\(network\|capabilities\|dhcp\)' "$log" | sed 's/^/# /'
	restored bridge
fi

# ---- masquerade: NAT to the pod IP, a forwarded port ------------------------
if want masquerade; then
	log=$logdir/launcher-net-masquerade.log
	vmi masquerade "          masquerade: {}
          ports: [{name: http, port: 8080}]" 2 true "$(netargs masquerade 10.0.2.2 10.0.2.1) kvirt.net_queues=2"
	rm -f "$work/fwd.txt"
	: >"$log"
	ip netns exec node busybox nc -l -p 7000 -e echo from-node &
	bg+=($!)
	(
		kv_wait_for "$log" '^KVIRT-NET listening' 600 || exit 0
		for _ in $(seq 1 40); do
			out=$(ip netns exec node busybox nc -w 5 $pod_ip 8080 </dev/null 2>&1)
			[ "$out" = from-guest ] && break
			sleep 0.5
		done
		echo "$out" >"$work/fwd.txt"
	) &
	bg+=($!)
	c0=$(counter 0) c1=$(counter 1)
	kv_vm_run 600 "$log" -- in_pod "$launcher" run --network pod --vmm "$vmm" --run-dir "$work/run-masquerade" "$work/masquerade.yaml"
	status=$(kv_result_field "$KV_VM_RESULT" status)
	detail=$(kv_result_field "$KV_VM_RESULT" detail)
	if [ "$status" = pass ] && [ "$KV_VM_RC" = 0 ]; then
		ok "masquerade: guest 10.0.2.2/24 via 10.0.2.1, DNS, MTU, 2 queues, reaches the node: $detail"
	else
		not_ok "masquerade: guest" "result '${KV_VM_RESULT:-none}', launcher exit ${KV_VM_RC:-?}" "$log"
	fi
	n0=$(counter 0) n1=$(counter 1)
	if [ "$((n0 - c0))" -gt 0 ] && [ "$((n1 - c1))" = 0 ]; then
		ok "masquerade: node saw $((n0 - c0)) packets to port 7000 from the pod IP $pod_ip, none from 10.0.2.0/24"
	else
		not_ok "masquerade: source NAT" "node counters: from pod IP $c0 -> $n0, from 10.0.2.0/24 $c1 -> $n1"
	fi
	if [ "$(cat "$work/fwd.txt" 2>/dev/null)" = from-guest ]; then
		ok "masquerade: node -> $pod_ip:8080 reaches the guest's listener (from-guest)"
	else
		not_ok "masquerade: port 8080 forward" "node read '$(cat "$work/fwd.txt" 2>/dev/null)'"
	fi
	grep -a 'kvirt-launcher.*\(network\|capabilities\|dhcp\)' "$log" | sed 's/^/# /'
	restored masquerade
fi

# ---- sigterm: the launcher is signalled while the VM runs ----------------------
if want sigterm; then
	log=$logdir/launcher-net-sigterm.log
	vmi sigterm "          bridge: {}" 1 false "$base kvirt.test=hello kvirt.end=none"
	# Not through in_pod(): $! must be the launcher itself (ip and sh exec it).
	ip netns exec pod sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$work/resolv.conf" \
		"$launcher" run --network pod --vmm "$vmm" --run-dir "$work/run-sigterm" "$work/sigterm.yaml" </dev/null >"$log" 2>&1 &
	lpid=$!
	if ! kv_wait_for "$log" '^KVIRT-RESULT' 300; then
		not_ok "sigterm: guest ready" "no result line" "$log"
		kill -KILL $lpid 2>/dev/null
	else
		mid=$(ip -n pod -j link show | jq -r '[.[].ifname] | sort | join(",")')
		kill -TERM $lpid
		wait $lpid
		rc=$?
		if [ "$rc" = 5 ] && [ "$mid" = "eth0,k6t-eth0,lo,tap0" ]; then
			ok "sigterm: links while running $mid; SIGTERM -> grace end -> exit 5"
		else
			not_ok "sigterm" "links while running '$mid', exit $rc (want 5)" "$log"
		fi
	fi
	grep -a 'kvirt-launcher.*\(network\|capabilities\|dhcp\)' "$log" | sed 's/^/# /'
	restored sigterm
fi

# ---- setup-fail: a step fails halfway (the bridge name is taken) -------------
if want setup-fail; then
	log=$logdir/launcher-net-setup-fail.log
	vmi setup-fail "          bridge: {}" 1 false "$base kvirt.test=hello"
	ip -n pod link add k6t-eth0 type dummy
	snap >"$work/before-fail.txt"
	in_pod "$launcher" run --network pod --vmm "$vmm" --run-dir "$work/run-fail" "$work/setup-fail.yaml" </dev/null >"$log" 2>&1
	rc=$?
	snap >"$work/after-fail.txt"
	if [ "$rc" = 1 ] && grep -q 'error: network:' "$log" && ! grep -q 'kvirt-vmm pid' "$log" &&
		[ ! -e "$work/run-fail" ] && diff -q "$work/before-fail.txt" "$work/after-fail.txt" >/dev/null; then
		ok "setup-fail: exit 1, VMM never started, run dir gone, pod namespace as before: $(grep -a 'error:' "$log")"
	else
		not_ok "setup-fail" "exit $rc; $(diff "$work/before-fail.txt" "$work/after-fail.txt" | head -c 800 | tr '\n' '|')" "$log"
	fi
	ip -n pod link del k6t-eth0
fi

echo "1..$n"
[ "$failed" = 0 ]
