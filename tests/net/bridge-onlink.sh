#!/bin/bash
# Bridge binding on a Calico-style pod: a /32 address whose gateway
# (169.254.1.1) is outside any subnet and reachable only through an on-link
# route.  The guest must get the on-link route before the default route in
# option 121, or it cannot reach anything.
. "$(dirname "$0")/lib.sh"
kvt_require

kvt_make_pod onlink || { tap_ok 1 "build the pod fixture"; tap_finish; exit 1; }
kvt_snapshot before
check "the pod itself reaches the node at 10.0.0.1" \
	ip netns exec "$POD" busybox ping -c 1 -W 2 10.0.0.1

kvt_start_setup --binding bridge --guest-link vg0 --resolv "$KVT_TMP/resolv.conf"
tap_ok $? "kvirt-netsetup sets the bridge binding up"
kvt_guest_dhcp "$GUEST_MAC"
tap_ok $? "udhcpc in the guest gets a lease"
sed 's/^/# lease: /' "$KVT_TMP/lease" 2>/dev/null
is "$(kvt_lease ip)" 10.244.1.5 "guest address is the pod IP"
is "$(kvt_lease subnet)" 255.255.255.255 "a /32 mask"
is "$(kvt_lease router)" 169.254.1.1 "the link-local gateway"
is "$(kvt_lease staticroutes)" "169.254.1.1/32 0.0.0.0 0.0.0.0/0 169.254.1.1" \
	"option 121: on-link route to the gateway first, then the default route"
is "$(kvt_lease broadcast)" "" "no broadcast address for a /32"
check "guest pings the node (10.0.0.1) through 169.254.1.1" \
	ip netns exec "$GUEST" busybox ping -c 2 -W 2 10.0.0.1
check "node pings the guest at the pod IP" ip netns exec "$NODE" busybox ping -c 2 -W 2 10.244.1.5

kvt_stop_setup
tap_ok $? "kvirt-netsetup exits 0 on SIGTERM"
kvt_snapshot after
kvt_same before after "pod namespace restored: /32 address, on-link and default routes"
check "the pod reaches the node again after teardown" \
	ip netns exec "$POD" busybox ping -c 1 -W 2 10.0.0.1
tap_finish
