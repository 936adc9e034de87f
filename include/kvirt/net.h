/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod networking for the launcher (net/): rtnetlink through libmnl, taps,
 * an undo journal, and the two pod-network bindings (bridge, masquerade).
 *
 * Everything works on the calling thread's current network namespace: the
 * launcher runs inside the pod, tests enter a namespace first.
 */
#ifndef KVIRT_NET_H
#define KVIRT_NET_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvirt/dhcp.h"
#include "kvirt/err.h"

/* ---- rtnetlink (net/netlink.c, the only file that includes libmnl) ---- */

struct net_nl;

int net_nl_open(struct net_nl **out, struct kv_err **err);
void net_nl_close(struct net_nl *nl);
static inline void net_nl_closep(struct net_nl **nl)
{
	net_nl_close(*nl);
	*nl = NULL;
}
#define _cleanup_net_nl_ __attribute__((cleanup(net_nl_closep)))

struct net_link {
	int ifindex;
	char name[IFNAMSIZ];
	uint8_t mac[6];
	uint32_t mtu;
	uint32_t flags; /* IFF_* */
	int master;	/* ifindex of the bridge, 0 if none */
};

struct net_addr {
	int ifindex;
	struct in_addr addr;
	uint8_t prefix;
	bool has_broadcast;
	struct in_addr broadcast;
	uint8_t scope;
	uint32_t flags; /* IFA_F_* */
	char label[IFNAMSIZ];
};

struct net_route {
	uint32_t table;
	uint8_t protocol, scope, type;
	uint32_t flags; /* RTNH_F_ONLINK, ... */
	struct in_addr dst;
	uint8_t dst_len;
	bool has_gw;
	struct in_addr gw;
	int oif;
	bool has_prefsrc;
	struct in_addr prefsrc;
	bool has_priority;
	uint32_t priority;
};

/* Look up a link by name (-ENODEV when there is none). */
int net_link_get(struct net_nl *nl, const char *name, struct net_link *out, struct kv_err **err);
int net_link_get_by_index(struct net_nl *nl, int ifindex, struct net_link *out,
			  struct kv_err **err);
int net_link_set_up(struct net_nl *nl, int ifindex, bool up, struct kv_err **err);
int net_link_set_mtu(struct net_nl *nl, int ifindex, uint32_t mtu, struct kv_err **err);
int net_link_set_mac(struct net_nl *nl, int ifindex, const uint8_t mac[6], struct kv_err **err);
/* Enslave to bridge `master`, or release from it with master 0. */
int net_link_set_master(struct net_nl *nl, int ifindex, int master, struct kv_err **err);
/* Create a bridge (down); mac may be NULL for the kernel's choice. */
int net_bridge_add(struct net_nl *nl, const char *name, uint32_t mtu, const uint8_t *mac,
		   struct kv_err **err);
int net_link_del(struct net_nl *nl, int ifindex, struct kv_err **err);

/* IPv4 addresses / main-table routes of one link (ifindex 0: all links). */
int net_addr_list(struct net_nl *nl, int ifindex, struct net_addr **out, size_t *n,
		  struct kv_err **err);
int net_addr_add(struct net_nl *nl, const struct net_addr *a, struct kv_err **err);
int net_addr_del(struct net_nl *nl, const struct net_addr *a, struct kv_err **err);
int net_route_list(struct net_nl *nl, int oif, struct net_route **out, size_t *n,
		   struct kv_err **err);
int net_route_add(struct net_nl *nl, const struct net_route *r, struct kv_err **err);
int net_route_del(struct net_nl *nl, const struct net_route *r, struct kv_err **err);

/* ---- taps (net/tap.c) ---- */

/*
 * Create tap `name` with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR (and IFF_MULTI_QUEUE
 * when queues > 1): one fd per queue, all O_CLOEXEC, returned in fds[0..queues).
 * The tap is not persistent: it disappears with its last fd.
 */
int net_tap_create(const char *name, unsigned queues, int *fds, struct kv_err **err);

/* ---- undo journal (net/undo.c) ---- */

/*
 * Every setup step that changes the namespace first records its inverse
 * here.  net_undo_run() replays the inverses newest first and keeps going
 * past failures (reporting the first one), so a failed setup or an exit
 * puts the namespace back as it was.
 */
struct net_undo;

int net_undo_new(struct net_undo **out);
void net_undo_free(struct net_undo *u);
size_t net_undo_len(const struct net_undo *u);
/*
 * Test hook: make the n-th recorded step fail with -ECANCELED (0 = never),
 * so tests can prove that a setup failing at any step leaves nothing behind.
 */
void net_undo_fail_at(struct net_undo *u, size_t n);
/* Delete the link by name (it may already be gone: a tap dies with its fds). */
int net_undo_link_del(struct net_undo *u, const char *name);
int net_undo_link_up(struct net_undo *u, int ifindex, bool up);
int net_undo_link_mac(struct net_undo *u, int ifindex, const uint8_t mac[6]);
int net_undo_link_mtu(struct net_undo *u, int ifindex, uint32_t mtu);
int net_undo_link_master(struct net_undo *u, int ifindex, int master);
int net_undo_addr_add(struct net_undo *u, const struct net_addr *a);
int net_undo_route_add(struct net_undo *u, const struct net_route *r);
int net_undo_sysctl(struct net_undo *u, const char *path, const char *old_value);
int net_undo_nft_table(struct net_undo *u, const char *nft, const char *table);
int net_undo_run(struct net_undo *u, struct net_nl *nl, struct kv_err **err);

/* ---- helpers (net/nft.c) ---- */

/* Run `nft -f -` with `ruleset` on stdin; nft's own message becomes the error. */
int net_nft_apply(const char *nft, const char *ruleset, struct kv_err **err);
/* Write a /proc/sys value, returning the previous one in old (cap bytes). */
int net_sysctl_set(const char *path, const char *value, char *old, size_t cap, struct kv_err **err);

/* ---- bindings (net/binding.c) ---- */

enum net_binding_kind {
	NET_BINDING_BRIDGE,
	NET_BINDING_MASQUERADE,
};

struct net_port {
	uint8_t protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
};

#define NET_MAX_QUEUES 16

struct net_binding_config {
	enum net_binding_kind kind;
	const char *pod_ifname;	 /* default "eth0" */
	const char *bridge_name; /* default "k6t-<pod_ifname>" */
	/*
	 * The guest's side of the bridge: a tap named tap_name (default
	 * "tap0") with `queues` queues whose fds go to the VMM, or, when
	 * guest_link is set, an existing link in the namespace (tests use a
	 * veth whose peer stands in for the guest).
	 */
	const char *tap_name;
	unsigned queues;
	const char *guest_link;
	bool has_guest_mac; /* spec macAddress; default: the pod's MAC (bridge) */
	uint8_t guest_mac[6];
	const char *resolv_conf; /* default "/etc/resolv.conf"; missing file = no DNS */
	const char *hostname;	 /* option 12; NULL: none */
	/* Masquerade: nftables table name (default "kvirt_<pod_ifname>"), ports to forward. */
	const char *nft_table;
	const char *nft; /* the nft binary, default "nft" */
	const struct net_port *ports;
	size_t n_ports; /* 0: forward every port */
	/* Test hook, see net_undo_fail_at(). */
	size_t fail_at_step;
};

struct net_binding {
	struct net_undo *undo;
	size_t n_tap_fds;
	int tap_fds[NET_MAX_QUEUES];
	uint8_t guest_mac[6];
	int bridge_ifindex;
	uint8_t bridge_mac[6];
	bool dhcp_enabled; /* false: the pod had no IPv4 address (pure L2) */
	struct dhcp_lease lease;
};

/* Masquerade addressing (KubeVirt's default vmNetworkCIDR). */
#define NET_MASQ_GATEWAY "10.0.2.1"
#define NET_MASQ_GUEST	 "10.0.2.2"
#define NET_MASQ_PREFIX	 24
/* The bridge's MAC in both bindings; KubeVirt reserves it, so no guest has it. */
#define NET_BRIDGE_MAC              \
	{                           \
		0x02, 0, 0, 0, 0, 0 \
	}

/*
 * Set the binding up in the current namespace.  On failure everything done
 * so far is undone before returning.  On success, *out owns the tap fds and
 * the journal; net_binding_teardown() restores the namespace.
 */
int net_binding_setup(const struct net_binding_config *cfg, struct net_binding **out,
		      struct kv_err **err);
int net_binding_teardown(struct net_binding *b, struct kv_err **err);
/* Free without undoing (after teardown, or when the namespace is going away). */
void net_binding_free(struct net_binding *b);

/* Generate the masquerade nftables ruleset (malloc'd). */
char *net_masquerade_ruleset(const char *table, const char *pod_ifname, const char *bridge,
			     struct in_addr guest, struct in_addr gateway,
			     const struct net_port *ports, size_t n_ports);

int net_parse_mac(const char *s, uint8_t mac[6]);

#endif
